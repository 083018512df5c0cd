"""Helpers for testing callyard and the systems built on it."""
