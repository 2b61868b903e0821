"""Bytes to a checked table: CSV reading, column roles, the shared checks and the records they fill, token previews
and batching. What differs between task kinds lives with the kinds (backend/tasks/)."""
