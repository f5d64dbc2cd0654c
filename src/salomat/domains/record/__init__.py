"""The shared health record (issue 18): FHIR resources that other medical information
systems send for a person, kept as sent, versioned, searchable, on the family doctor's
timeline (docs/record.md)."""
