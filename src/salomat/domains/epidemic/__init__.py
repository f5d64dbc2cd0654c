"""Epidemic surveillance: the instantaneous reproduction number by region (Cori et al.
2013, as EpiEstim computes it), renewal-equation forecasts of cases, admissions and
occupied beds against capacity, the zone matrix by the pack's rule editions, and
revaccination coverage (issue 23, docs/epidemic.md).

Case notifications, hospital capacity, the daily situation with zone history and alerts,
and revaccination coverage read the database (``service``'s database modules, ``api*``,
``web_revaccination``); the pure core they call (``service.rt``, ``forecast``,
``matrix``, ``revaccination``, ``distributions``) computes on arrays of counts.
"""
