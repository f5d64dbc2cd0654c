"""Bulk data export (FHIR Bulk Data Access 2.0): export requests, their files (issue 19)."""
