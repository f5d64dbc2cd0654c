"""FHIR subscriptions: other systems told when what they care about changes (issue 19)."""
