"""Tests of backend.serving."""
