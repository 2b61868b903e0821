"""What differs between task kinds: their data, features, metrics, inference and analysis."""
