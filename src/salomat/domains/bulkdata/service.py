"""Use cases of the bulkdata domain (filled in by its part of issue 19)."""
