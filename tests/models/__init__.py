"""Tests of backend.models."""
