"""Helpers for tests and benchmarks that need a real running service."""
