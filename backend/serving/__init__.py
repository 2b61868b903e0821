"""A finished run in use: inference, batch scoring, error analysis, comparison and export."""
