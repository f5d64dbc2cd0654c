"""DNS rebinding: a notification goes to the address the endpoint check approved, not to
whatever the name resolves to when the connection is made."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from salomat.domains.subscriptions import service as subscriptions
from salomat.fhir import subscription as delivery
from tests.fhir.test_subscription import Receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
def receiver():
    r = Receiver()
    r.up()
    yield r
    r.down()


@pytest.fixture
def production(monkeypatch):
    from salomat.core.config import get_settings

    monkeypatch.setenv("SALOMAT_ENV", "production")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("SALOMAT_ENV")
    get_settings.cache_clear()


async def test_the_pinned_transport_connects_to_its_address_whatever_the_name(receiver):
    # ``.invalid`` never resolves (RFC 6761): only the pinned address can be reached
    url = f"http://rebind.invalid:{receiver.port}/hook"
    async with httpx.AsyncClient(transport=delivery.pinned_transport("127.0.0.1")) as c:
        r = await c.post(url, content=b"x")
    assert r.status_code == 200
    assert [g.path for g in receiver.got] == ["/hook"]
    assert receiver.got[0].headers["host"] == f"rebind.invalid:{receiver.port}"
    # without the pin the same name goes nowhere
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as c:
            await c.post(url, content=b"x")


async def test_in_production_the_check_names_the_address_it_approved(monkeypatch, production):
    seen = []

    async def addresses(host):
        import ipaddress

        seen.append(host)
        return [ipaddress.ip_address("93.184.216.34")]

    monkeypatch.setattr(subscriptions, "_addresses", addresses)
    errors, pinned = await subscriptions.delivery_target("https://hospital.example/hook")
    assert (errors, pinned, seen) == ([], "93.184.216.34", ["hospital.example"])


async def test_a_delivery_goes_to_the_approved_address_not_a_new_lookup(monkeypatch, receiver):
    """The check approved 127.0.0.1 for the name; at the connection the name resolves to
    nothing (or, in an attack, to a private address): the notification still goes to the
    approved address, and only there."""

    async def approved(url, *, field="channel.endpoint"):
        return [], "127.0.0.1"

    monkeypatch.setattr(subscriptions, "delivery_target", approved)
    sub = SimpleNamespace(id=7, endpoint=f"http://rebind.invalid:{receiver.port}/hook", headers=[])
    status, error, _ = await delivery._send(sub, "ServiceRequest", "1", None)
    assert (status, error) == (200, None)
    assert receiver.got[0].headers["x-salomat-resource"] == "ServiceRequest/1"
