"""Use cases of the subscriptions domain (filled in by its part of issue 19)."""
