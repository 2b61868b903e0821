"""The model catalog, where each model resolves, and model files on disk."""
