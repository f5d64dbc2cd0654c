"""Planning the primary-care network: settlements and their population, the unit a
settlement needs under each norm edition, access to the nearest unit, staffing posts
against filled FTE, and the routes of mobile medical teams (docs/planning.md)."""
