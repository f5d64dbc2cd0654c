"""Backup and restore of the whole database, outside the application.

SQLite uses the online backup API, so a backup is a consistent copy even while
the app writes; restore copies a backup back into the live file the same way.
PostgreSQL uses ``pg_dump -Fc`` and ``pg_restore --clean --if-exists --no-owner``
in one transaction, so a failed restore leaves the database as it was. Every
function takes the database URL explicitly (default: the configured one).

A backup holds every person's health data: files are created owner-only
(0600), and a restore checks first that the file is a Salomat database of a
migration this version knows.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from salomat.core.config import get_settings

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


def _url(url: str | None) -> str:
    return url or get_settings().resolved_database_url()


def backend(url: str | None = None) -> str:
    """``sqlite`` or ``postgresql``."""
    name = make_url(_url(url)).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups of {name} databases are not supported")
    return name


def sqlite_file(url: str | None = None) -> Path | None:
    """The file of a SQLite database URL; ``None`` for PostgreSQL."""
    url = _url(url)
    return _sqlite_path(url) if backend(url) == "sqlite" else None


def require_migrated(url: str | None = None) -> str:
    """The database's migration; refuses an empty one, saying what to run."""
    revision = current_revision(url)
    if revision is None:
        raise BackupError(
            f"There are no tables in {describe(url)} yet: run `salomat db upgrade` first."
        )
    return revision


def describe(url: str | None = None) -> str:
    """The database in words, without its password (for prompts and messages)."""
    url = _url(url)
    if backend(url) == "sqlite":
        return f"the SQLite database {_sqlite_path(url)}"
    u = make_url(url)
    return f"the PostgreSQL database {u.database} on {u.host or 'localhost'}:{u.port or 5432}"


# ---- revisions ---------------------------------------------------------------


def head_revisions(url: str | None = None) -> list[str]:
    """The migrations this version of Salomat ends at."""
    from alembic.script import ScriptDirectory

    from salomat.core.migrate import alembic_config

    return list(ScriptDirectory.from_config(alembic_config(_url(url))).get_heads())


def _known(revision: str, url: str | None) -> bool:
    from alembic.script import ScriptDirectory

    from salomat.core.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(_url(url)))
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


def current_revision(url: str | None = None) -> str | None:
    """The migration the database is at; ``None`` for an empty or missing database."""
    url = _url(url)
    if backend(url) == "sqlite":
        path = _sqlite_path(url)
        if not path.exists():
            return None
        with closing(sqlite3.connect(path, timeout=30)) as conn:
            return _sqlite_revision(conn)
    import psycopg

    conninfo, password = _conninfo(url)
    kwargs = {"password": password} if password else {}
    try:
        with psycopg.connect(conninfo, connect_timeout=10, **kwargs) as conn:
            found = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
            if not found or found[0] is None:
                return None
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except psycopg.OperationalError as e:
        raise BackupError(f"cannot connect to the database: {e}".strip()) from e
    return ",".join(sorted(r[0] for r in rows)) or None


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    has = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if not has:
        return None
    rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return ",".join(sorted(r[0] for r in rows)) or None


def _check_known(revision: str, url: str | None) -> None:
    unknown = [r for r in revision.split(",") if not _known(r, url)]
    if unknown:
        raise BackupError(
            f"The backup is at migration {revision}, which this version of Salomat does not "
            "know (it was made by a newer version?). Install that version to restore it."
        )


# ---- files -------------------------------------------------------------------


def _magic(path: Path) -> bytes:
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file.")
    with path.open("rb") as f:
        return f.read(16)


@contextmanager
def _private_target(dest: Path, overwrite: bool) -> Iterator[Path]:
    """A 0600 temporary file beside ``dest``, moved over it only when the backup succeeded."""
    if dest.exists() and not overwrite:
        raise BackupError(f"{dest} exists; choose another name, or --overwrite to replace it.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


# ---- SQLite --------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"the SQLite database {database or ':memory:'} is not a plain file")
    return Path(database)


def _sqlite_backup(url: str, dest: Path, overwrite: bool) -> None:
    src_path = _sqlite_path(url)
    if not src_path.is_file():
        raise BackupError(f"There is no database at {src_path}: nothing to back up.")
    with _private_target(dest, overwrite) as tmp:
        with (
            closing(sqlite3.connect(src_path, timeout=30)) as src,
            closing(sqlite3.connect(tmp)) as dst,
        ):
            src.backup(dst)
            # one self-contained file: no -wal/-shm needed to read the copy
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise BackupError(f"The copy failed its integrity check: {check}")


def inspect_sqlite(file: Path) -> str:
    """The migration a SQLite backup is at; refuses anything else with a clear message."""
    magic = _magic(file)
    if magic.startswith(PGDUMP_MAGIC):
        raise BackupError(f"{file} is a PostgreSQL backup (pg_dump); this database is SQLite.")
    if magic != SQLITE_MAGIC:
        raise BackupError(f"{file} is not a SQLite database, so not a Salomat SQLite backup.")
    try:
        with closing(sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            revision = _sqlite_revision(conn)
            check = conn.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as e:
        raise BackupError(f"{file} cannot be read as a SQLite database: {e}") from e
    if revision is None:
        raise BackupError(
            f"{file} has no alembic_version table (or it is empty): not a Salomat database."
        )
    if not check or check[0] != "ok":
        raise BackupError(f"{file} is damaged: its integrity check says {check}")
    return revision


def _sqlite_restore(url: str, file: Path) -> str:
    revision = inspect_sqlite(file)
    _check_known(revision, url)
    live = _sqlite_path(url)
    live.parent.mkdir(parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(live, timeout=30)) as dst,
    ):
        src.backup(dst)
    return revision


# ---- PostgreSQL ----------------------------------------------------------------


def _conninfo(url: str) -> tuple[str, str | None]:
    """libpq URI without the password (it goes in PGPASSWORD, not the process list)."""
    u = make_url(url)
    bare = URL.create(
        "postgresql",
        username=u.username,
        host=u.host,
        port=u.port,
        database=u.database,
        query=u.query,
    )
    return bare.render_as_string(hide_password=False), (str(u.password) if u.password else None)


def _env(password: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed or not on PATH. Install the PostgreSQL client tools "
            "of the server's major version or newer (Debian: apt-get install "
            "postgresql-client) and retry."
        )
    return path


def _run(cmd: list[str], env: dict[str, str], what: str) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        detail = proc.stderr.strip() or f"exit status {proc.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return proc.stdout


def _pg_backup(url: str, dest: Path, overwrite: bool) -> None:
    tool = _tool("pg_dump")
    conninfo, password = _conninfo(url)
    with _private_target(dest, overwrite) as tmp:
        _run(
            [tool, "--format=custom", "--no-password", f"--file={tmp}", f"--dbname={conninfo}"],
            _env(password),
            "pg_dump",
        )


def inspect_pg(file: Path) -> str:
    """The migration a pg_dump archive is at; refuses anything else with a clear message."""
    magic = _magic(file)
    if magic == SQLITE_MAGIC:
        raise BackupError(f"{file} is a SQLite backup; this database is PostgreSQL.")
    if not magic.startswith(PGDUMP_MAGIC):
        raise BackupError(
            f"{file} is not a pg_dump custom-format archive (made by `salomat backup`)."
        )
    tool = _tool("pg_restore")
    env = dict(os.environ)
    sql = _run(
        [tool, "--data-only", "--table=alembic_version", "--file=-", str(file)], env, "pg_restore"
    )
    lines = sql.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and ".alembic_version " in line:
            revisions = []
            for row in lines[i + 1 :]:
                if row == "\\.":
                    break
                revisions.append(row.strip())
            if revisions:
                return ",".join(sorted(revisions))
    raise BackupError(
        f"{file} has no alembic_version table (or it is empty): not a Salomat database."
    )


def _pg_restore(url: str, file: Path) -> str:
    revision = inspect_pg(file)
    _check_known(revision, url)
    live = current_revision(url)
    if live is not None and live != revision:
        raise BackupError(
            f"The database is at migration {live} and the backup at {revision}. pg_restore only "
            "replaces what the backup holds, so tables of other migrations would stay behind. "
            "Restore into a new empty database (createdb, then point SALOMAT_DATABASE_URL at "
            "it) and run `salomat db upgrade` afterwards."
        )
    tool = _tool("pg_restore")
    conninfo, password = _conninfo(url)
    _run(
        [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={conninfo}",
            str(file),
        ],
        _env(password),
        "pg_restore",
    )
    return revision


# ---- entry points ----------------------------------------------------------------


def backup(file: Path | str, url: str | None = None, *, overwrite: bool = False) -> Path:
    """Write a consistent copy of the database to ``file`` (mode 0600)."""
    url, dest = _url(url), Path(file)
    if backend(url) == "sqlite":
        _sqlite_backup(url, dest, overwrite)
    else:
        _pg_backup(url, dest, overwrite)
    return dest


def inspect(file: Path | str, url: str | None = None) -> str:
    """The migration a backup file is at, after checking it suits this database's backend."""
    url, src = _url(url), Path(file)
    revision = inspect_sqlite(src) if backend(url) == "sqlite" else inspect_pg(src)
    _check_known(revision, url)
    return revision


def restore(file: Path | str, url: str | None = None) -> str:
    """Replace the database's contents with the backup; returns the backup's migration.

    Stop the application first. Run ``salomat db upgrade`` afterwards when the
    backup is older than this version's migrations.
    """
    url, src = _url(url), Path(file)
    if backend(url) == "sqlite":
        return _sqlite_restore(url, src)
    return _pg_restore(url, src)
