"""The national immunization registry: calendars, doses given, due and overdue, coverage."""
