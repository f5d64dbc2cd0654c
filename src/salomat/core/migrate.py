"""Run Alembic from code (CLI, tests, `make run`) against a given database URL."""

from __future__ import annotations

import asyncio
import threading

from alembic import command
from alembic.config import Config

from salomat.core.config import PROJECT_ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url or get_settings().resolved_database_url())
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    _off_loop(lambda: command.upgrade(alembic_config(url), revision))


def downgrade(url: str | None = None, revision: str = "base") -> None:
    _off_loop(lambda: command.downgrade(alembic_config(url), revision))


def _off_loop(fn: object) -> None:
    """env.py runs its own event loop; never nest it inside a running one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn()  # type: ignore[operator]
        return
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()  # type: ignore[operator]
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if errors:
        raise errors[0]
