"""``Idempotency-Key`` on POST: a retry returns the first answer, creates nothing.

The stored answer is inserted in the same transaction as the work it
describes, and (user, key) is the primary key, so two racing retries cannot
both commit: the loser rolls back and replays the winner's answer.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Integer, LargeBinary, String, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import Response

from salomat.core.db import Base, UTCDateTime, utcnow
from salomat.core.errors import FieldError, Invalid

HEADER = "idempotency-key"
MAX_KEY = 255


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_key"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def key_of(request: Request) -> str | None:
    if request.method != "POST":
        return None
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY:
        raise Invalid.fields([FieldError("Idempotency-Key", f"must be 1–{MAX_KEY} characters")])
    return key


async def request_hash(request: Request) -> str:
    h = hashlib.sha256()
    h.update(request.method.encode())
    h.update(request.url.path.encode())
    h.update(request.url.query.encode())
    h.update(await request.body())
    return h.hexdigest()


async def stored(session: AsyncSession, user_id: int, key: str, digest: str) -> Response | None:
    rec = (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
            )
        )
    ).scalar_one_or_none()
    if rec is None:
        return None
    if rec.request_hash != digest:
        raise Invalid.fields(
            [FieldError("Idempotency-Key", "was already used for a different request")]
        )
    headers = {"Idempotent-Replayed": "true"}
    if rec.location:
        headers["Location"] = rec.location
    return Response(rec.body, rec.status_code, headers=headers, media_type=rec.content_type)


async def remember(
    session: AsyncSession, user_id: int, key: str, digest: str, response: Response
) -> None:
    body = getattr(response, "body", None)
    if not isinstance(body, bytes | bytearray):
        return
    await session.execute(
        insert(IdempotencyRecord),
        [
            {
                "user_id": user_id,
                "key": key,
                "request_hash": digest,
                "status_code": response.status_code,
                "content_type": response.headers.get("content-type"),
                "location": response.headers.get("location"),
                "body": bytes(body),
                "created_at": utcnow(),
            }
        ],
    )


async def purge_older_than(session: AsyncSession, hours: int) -> int:
    cutoff = utcnow() - timedelta(hours=hours)
    res = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
    )
    return int(getattr(res, "rowcount", 0) or 0)
