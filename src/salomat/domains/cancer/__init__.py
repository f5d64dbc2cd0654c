"""The population-based cancer registry (issue 16)."""
