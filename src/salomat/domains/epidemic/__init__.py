"""Epidemic surveillance: the instantaneous reproduction number by region (Cori et al.
2013, as EpiEstim computes it), renewal-equation forecasts of cases, admissions and
occupied beds against capacity, the zone matrix by the pack's rule editions, and
revaccination coverage (issue 23, docs/epidemic.md).

This package holds the pure core first: ``service`` computes on arrays of counts and
never opens a database; notifications, capacity and the dashboard call it.
"""
