"""Pytest plugin placeholder: filled in by its owner."""
