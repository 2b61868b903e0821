"""Multi-label classification: several labels a row, one separated column or one column each."""
