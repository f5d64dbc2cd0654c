"""A client system's subscription acts with no more than the system holds now: an
administrator who narrows its scopes, or switches it off, narrows or stops what its
subscriptions are told (the review of issue 19 found them keeping the old scopes)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from salomat.core.security import Principal
from salomat.domains.accounts import service as accounts
from salomat.domains.accounts.models import User
from salomat.domains.accounts.schemas import ClientSystemChange
from salomat.domains.subscriptions import service as subscriptions
from salomat.domains.subscriptions.schemas import SubscriptionIn
from tests.domains.accounts.client_systems_support import ADMIN
from tests.domains.accounts.client_systems_support import make_client as _make_client

pytestmark = pytest.mark.anyio
make_client = _make_client  # the fixture

GRANTED = ("system/Subscription.write", "system/ServiceRequest.read")


async def test_a_subscription_keeps_only_the_scopes_its_system_still_holds(db, make_client):
    c = await make_client("obstetrician", GRANTED)
    system = await accounts.client_by_id(db, c.client_id)
    user_id = await db.scalar(select(User.id).where(User.username == c.client_id))
    principal = Principal(
        user_id=user_id,
        username=c.client_id,
        role="obstetrician",
        session_id="test",
        facility_id=system.facility_id,
        facility_code=system.facility_code,
        scopes=frozenset(GRANTED),
    )
    sub = await subscriptions.create(
        db,
        principal,
        SubscriptionIn(
            status="requested",
            resource_type="ServiceRequest",
            criteria=f"ServiceRequest?performer={system.facility_code}",
            reason="referrals to our perinatal centre",
            endpoint="http://127.0.0.1:9/hook",
            payload="application/fhir+json",
        ),
    )
    await db.commit()

    owner = await subscriptions.owner_principal(db, sub)
    assert owner is not None
    assert owner.scopes == frozenset(GRANTED)

    await accounts.change_client(
        db, ADMIN, c.client_id, ClientSystemChange(scopes=["system/Subscription.write"])
    )
    await db.commit()
    owner = await subscriptions.owner_principal(db, sub)
    assert owner is not None
    assert owner.scopes == frozenset({"system/Subscription.write"})

    # a wider grant later gives back no more than it subscribed with
    await accounts.change_client(
        db, ADMIN, c.client_id, ClientSystemChange(scopes=["system/*.read", "system/*.write"])
    )
    await db.commit()
    owner = await subscriptions.owner_principal(db, sub)
    assert owner is not None
    assert owner.scopes == frozenset(GRANTED)

    await accounts.set_client_active(db, ADMIN, c.client_id, False)
    await db.commit()
    owner = await subscriptions.owner_principal(db, sub)
    assert owner is None or owner.scopes == frozenset()
