"""Filled in by the planning domain (issue 22)."""
