"""Tests of backend.tasks.qa."""
