"""Tests of backend.tasks."""
