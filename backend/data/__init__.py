"""Bytes to a checked table: CSV reading, the shared checks, token previews and batching."""
