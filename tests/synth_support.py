"""A database of its own for tests of ``salomat synth`` (which refuses one with people).

    with empty_database() as url:
        with synth.run(url, country="UZ", people=2000, seed=1, as_of=AS_OF, progress=...) as ctx:
            population = registry.synthesize_population(ctx, 2000)

"Empty" is of people: the database is at head already, a copy of the run's migrated
template (``synth.run`` upgrades it all the same, which then finds nothing to do).
The URL is the app's async form (like SALOMAT_DATABASE_URL); ``sync_url`` gives
the form a plain SQLAlchemy engine takes. On PostgreSQL it is a database of its
own, dropped at the end; on SQLite a temporary file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from tests.conftest import scratch_database

#: a fixed day, so that ages and dates in the tests don't move
AS_OF = date(2026, 11, 23)


def sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "").replace("+psycopg_async", "+psycopg")


@contextmanager
def empty_database() -> Iterator[str]:
    with scratch_database("salomat_synth") as url:
        yield url
