"""Tests of backend.access."""
