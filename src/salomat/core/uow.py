"""One unit of work per request: the only place that commits.

``UnitOfWorkRoute`` wraps every route: it opens the session, resolves who is
calling, replays idempotent retries, checks the body (``core.params``: no NUL
character, no JSON nested too deep), runs the endpoint, and commits *before*
the response is returned, so audit rows are durable when the client sees the
answer. A failed request (an exception or a 4xx/5xx answer) rolls back
everything but the rows queued with ``audit.keep_after_rollback``. Its
integer parameters get the 64-bit range (``params.bound_integers``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, params
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from salomat.core import audit, idempotency
from salomat.core.db import DatabaseUnavailable, dispose_engines, session_factory
from salomat.core.errors import Conflict, SalomatError
from salomat.core.i18n import N_
from salomat.core.params import bound_integers, check_form, check_json_body
from salomat.core.security import Principal

Resolver = Callable[[Request, AsyncSession], Awaitable[Principal | None]]


async def _finish_failed(session: AsyncSession) -> None:
    await session.rollback()
    if await audit.write_after_rollback(session):
        await session.commit()


class UnitOfWorkRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, bound_integers(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Any]:
        endpoint = super().get_route_handler()
        body = self.body_field
        check_body = None
        if body is not None:
            check_body = check_form if isinstance(body.field_info, params.Form) else check_json_body

        async def handler(request: Request) -> Response:
            async with session_factory()() as session:
                request.state.session = session
                request.state.principal = None
                resolver: Resolver | None = getattr(request.app.state, "resolve_principal", None)
                if resolver is not None:
                    try:
                        request.state.principal = await resolver(request, session)
                    except SalomatError as e:
                        if e.status >= 500:
                            # the caller could not be read (the database unreachable): a
                            # 503 for every route, public pages included, never a 401 or a
                            # redirect to the login page
                            raise
                        request.state.auth_error = e
                principal: Principal | None = request.state.principal
                key = idempotency.key_of(request) if principal else None
                digest = None
                if key and principal:
                    digest = await idempotency.request_hash(request)
                    replay = await idempotency.stored(session, principal.user_id, key, digest)
                    if replay is not None:
                        await session.rollback()
                        return replay
                try:
                    if check_body is not None:
                        await check_body(request)
                    response: Response = await endpoint(request)
                except BaseException:
                    await _finish_failed(session)
                    raise
                if response.status_code >= 400:
                    await _finish_failed(session)
                    return response
                try:
                    if key and principal and digest:
                        await idempotency.remember(
                            session, principal.user_id, key, digest, response
                        )
                    await session.commit()
                except DatabaseUnavailable as e:
                    # the connection broke during COMMIT: the server may have committed
                    # before it went, so "nothing was changed" would not be true
                    raise DatabaseUnavailable(
                        N_(
                            "The connection to the database broke while the change was "
                            "being saved: it may or may not have been saved. Check before "
                            "trying again, or repeat the request with the same "
                            "Idempotency-Key."
                        )
                    ) from e
                except IntegrityError as e:
                    await session.rollback()
                    if key and principal and digest:
                        replay = await idempotency.stored(session, principal.user_id, key, digest)
                        if replay is not None:
                            return replay
                    raise Conflict(
                        "The change conflicts with another one made at the same time; retry."
                    ) from e
                return response

        return handler


def router(**kwargs: Any) -> APIRouter:
    """Every router of the app is made here, so every route gets the unit of work."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)


async def get_session(request: Request) -> AsyncSession:
    """FastAPI dependency: the request's session (opened by ``UnitOfWorkRoute``)."""
    return request.state.session  # type: ignore[no-any-return]


#: What adapters declare to receive the session, without importing SQLAlchemy.
DbSession = Annotated[AsyncSession, Depends(get_session)]


T = TypeVar("T")


def run_unit_of_work(work: Callable[[AsyncSession], Awaitable[T]], url: str | None = None) -> T:
    """Outside a request (CLI commands): run ``work(session)`` in one transaction.

    Commits only when ``work`` returns; disposes the engines afterwards, since
    the event loop that owns their connections ends here.
    """

    async def main() -> T:
        try:
            async with session_factory(url)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await dispose_engines()

    return asyncio.run(main())
