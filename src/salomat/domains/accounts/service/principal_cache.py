"""Who a login session belongs to, kept for a few seconds in this process.

Every authenticated request needs its principal: the login session joined with the
account and its facility (one statement, about a third of a person's read). This keeps
that answer for ``SALOMAT_AUTH_CACHE_SECONDS`` (5; 0 turns it off), in a bounded LRU of
``SIZE`` sessions per process. What it never keeps: whether a token is valid. The JWT's
signature, expiry, audience and issuer are checked on every request, its ``sub`` and
``role`` against the cached account, and an entry whose login session has expired is
dropped. A refusal (revoked, disabled, unknown) is never kept either.

Revocation: a change made through this process (logout, a session revoked, an account
disabled or enabled, a client system's scopes or switch, a merge moving an account to
another person) drops the entries it touches at once, and again when its transaction
commits; a read that raced with it does not keep what it read (``generation``). A change
made by another process (another worker, the CLI, SQL by hand) is seen here within
``SALOMAT_AUTH_CACHE_SECONDS``: that is the bounded revocation delay docs/operations.md
states.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.security import Principal

__all__ = ["CACHE", "Entry", "PrincipalCache", "forget"]

#: login sessions kept per process (a few hundred bytes each)
SIZE = 4096
_PENDING = "salomat.principal_cache.forget"


@dataclass(frozen=True)
class Entry:
    """A live login session's principal as read (``scopes`` unset: they come from the
    token), the session's kind and end, and when it was read (the cache's clock)."""

    principal: Principal
    kind: str
    expires_at: datetime
    read_at: float


class PrincipalCache:
    """A bounded LRU of principals by (database, how presented, session); ``seconds``
    None reads ``SALOMAT_AUTH_CACHE_SECONDS`` (tests give their own and a clock)."""

    def __init__(
        self,
        seconds: float | None = None,
        size: int = SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()
        self._lock = threading.Lock()
        #: moved on by every ``forget``: a read begun before it is not kept
        self.generation = 0

    @property
    def seconds(self) -> float:
        if self._seconds is not None:
            return self._seconds
        return get_settings().auth_cache_seconds

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[Any, ...]) -> Entry | None:
        """What is kept under ``key`` if it is younger than ``seconds`` and its session
        has not expired; its principal a fresh object each time."""
        seconds = self.seconds
        if seconds <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() - entry.read_at >= seconds or entry.expires_at <= utcnow():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        p = entry.principal
        fresh = replace(p, facility_names=dict(p.facility_names), extra=dict(p.extra))
        return replace(entry, principal=fresh)

    def put(
        self,
        key: tuple[Any, ...],
        principal: Principal,
        kind: str,
        expires_at: datetime,
        generation: int,
    ) -> None:
        """Keeps what was read, unless something was forgotten since the read began."""
        if self.seconds <= 0:
            return
        with self._lock:
            if generation != self.generation:
                return
            # a copy: the request that read it keeps its own, as every hit gets one
            kept = replace(
                principal,
                facility_names=dict(principal.facility_names),
                extra=dict(principal.extra),
            )
            self._entries[key] = Entry(kept, kind, expires_at, self.clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, *, session_ids: Iterable[str] = (), user_ids: Iterable[int] = ()) -> None:
        sids, uids = set(session_ids), set(user_ids)
        with self._lock:
            self.generation += 1
            if not sids and not uids:
                return
            for key in [
                k
                for k, e in self._entries.items()
                if e.principal.session_id in sids or e.principal.user_id in uids
            ]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()


#: this process's cache (sessions.py reads it through the module, so a test may swap it)
CACHE = PrincipalCache()


def forget(
    session: AsyncSession, *, session_ids: Iterable[str] = (), user_ids: Iterable[int] = ()
) -> None:
    """Drops the principals of these login sessions or accounts now, and again when the
    transaction that changes them commits (a request that read them meanwhile, before the
    commit, would otherwise keep the old answer)."""
    sids, uids = tuple(session_ids), tuple(user_ids)
    CACHE.forget(session_ids=sids, user_ids=uids)
    pending: list[tuple[tuple[str, ...], tuple[int, ...]]] = session.sync_session.info.setdefault(
        _PENDING, []
    )
    pending.append((sids, uids))


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for sids, uids in pending or ():
        CACHE.forget(session_ids=sids, user_ids=uids)
