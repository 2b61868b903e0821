"""Extractive question answering: SQuAD-style tables, windows over long contexts, spans and metrics."""
