"""An empty database of its own for tests of ``salomat synth`` (which refuses one with people).

    with empty_database() as url:
        with synth.run(url, country="UZ", people=2000, seed=1, as_of=AS_OF, progress=...) as ctx:
            population = registry.synthesize_population(ctx, 2000)

The URL is the app's async form (like SALOMAT_DATABASE_URL); ``sync_url`` gives
the form a plain SQLAlchemy engine takes. On PostgreSQL it is a database of its
own, dropped at the end; on SQLite a temporary file.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from tests.conftest import BACKEND, _create_pg_database, _drop_pg_database, _pg_database_url

#: a fixed day, so that ages and dates in the tests don't move
AS_OF = date(2026, 11, 23)


def sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "").replace("+psycopg_async", "+psycopg")


@contextmanager
def empty_database() -> Iterator[str]:
    if BACKEND == "postgresql":
        name = f"salomat_synth_{uuid.uuid4().hex[:10]}"
        _create_pg_database(name)
        try:
            yield _pg_database_url(name)
        finally:
            _drop_pg_database(name)
    else:
        with tempfile.TemporaryDirectory(prefix="salomat-synth-") as d:
            yield f"sqlite+aiosqlite:///{Path(d) / 'synth.sqlite3'}"
