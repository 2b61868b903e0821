"""Tests of backend.jobs."""
