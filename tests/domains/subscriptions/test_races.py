"""Two updates of one subscription with the same If-Match: the database keeps the first
and refuses the second (the row's version is SQLAlchemy's ``version_id_col``), on either
database; the second writer read the row before the first committed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from salomat.core.db import session_factory
from salomat.core.errors import PreconditionFailed
from salomat.core.security import Principal
from salomat.domains.accounts import service as accounts
from salomat.domains.accounts.models import User
from salomat.domains.subscriptions import service as subscriptions
from salomat.domains.subscriptions.schemas import SubscriptionIn
from tests.domains.accounts.client_systems_support import make_client as _make_client

pytestmark = pytest.mark.anyio
make_client = _make_client  # the fixture


def _wanted(system_code: str, reason: str) -> SubscriptionIn:
    return SubscriptionIn(
        status="requested",
        resource_type="ServiceRequest",
        criteria=f"ServiceRequest?performer={system_code}",
        reason=reason,
        endpoint="http://127.0.0.1:9/hook",
    )


async def test_the_second_of_two_updates_from_one_version_is_refused(db, make_client):
    scopes = ("system/Subscription.write", "system/ServiceRequest.read")
    c = await make_client("obstetrician", scopes)
    system = await accounts.client_by_id(db, c.client_id)
    user_id = await db.scalar(select(User.id).where(User.username == c.client_id))
    owner = Principal(
        user_id=user_id,
        username=c.client_id,
        role="obstetrician",
        session_id="test",
        facility_id=system.facility_id,
        scopes=frozenset(scopes),
    )
    sub = await subscriptions.create(db, owner, _wanted(system.facility_code, "first"))
    await db.commit()
    assert sub.version == 1

    factory = session_factory()
    async with factory() as a, factory() as b:
        await subscriptions.get(b, owner, sub.id)  # b has read version 1
        first = await subscriptions.update_subscription(
            a, owner, sub.id, _wanted(system.facility_code, "from a"), expected_version=1
        )
        await a.commit()
        assert first.version == 2
        with pytest.raises(PreconditionFailed):
            await subscriptions.update_subscription(
                b, owner, sub.id, _wanted(system.facility_code, "from b"), expected_version=1
            )
        await b.rollback()
    async with factory() as s:
        kept = await subscriptions.get(s, owner, sub.id)
    assert (kept.reason, kept.version) == ("from a", 2)
