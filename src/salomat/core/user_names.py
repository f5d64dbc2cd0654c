"""The names of the platform's users, for domains that record who acted by username.

A referral, a dose or a prescription records its author by username (``sent_by``,
``recorded_by``): the domain that wrote it may not import ``accounts`` (the domain
graph, docs/architecture.md). Pages show a person's name, not a login, so ``accounts``
provides the lookup and ``create_app`` installs it here, as it installs
``app.state.resolve_principal``; a domain asks for all the names a page shows in one
batched call. Without a provider (a tool that never built the app) nobody has a name
and pages keep the username.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

#: ``(session, usernames) -> {username: full name}``; users without a name are left out
Provider = Callable[[AsyncSession, Sequence[str]], Awaitable[dict[str, str]]]

_provider: Provider | None = None


def install_user_names(provider: Provider | None) -> None:
    global _provider
    _provider = provider


async def user_names(session: AsyncSession, usernames: Iterable[str | None]) -> dict[str, str]:
    """The full names of these users by username, in one statement; a username with no
    account or no recorded name is missing from the answer (show the username then)."""
    wanted = sorted({u for u in usernames if u})
    if not wanted or _provider is None:
        return {}
    return await _provider(session, wanted)
