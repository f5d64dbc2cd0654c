"""The insurance fund's public schemas, one module per use (contributions, status,
claims); import them from here."""
