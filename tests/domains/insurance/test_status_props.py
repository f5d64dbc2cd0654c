"""Whatever a caller sends as the status and eligibility lookups' parameters (national
id, day, service code; the citizen's day and person id), the answer is a result or a
refusal naming what is wrong, never a server error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.domains.insurance.test_status import fund as fund

anything = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\A[0-9]{1,14}\Z"),
    st.sampled_from(["", " ", "2026-02-30", "2026-13-01", "9999-12-31", "0001-01-01", "MRI-BRAIN"]),
)


@pytest.mark.anyio
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(nid=anything, on=anything, service=anything)
async def test_any_query_is_answered_or_refused(client, fund, nid, on, service) -> None:
    for path, params in (
        ("/api/v1/insurance/status", {"national_id": nid, "on": on}),
        ("/api/v1/insurance/eligibility", {"national_id": nid, "on": on, "service": service}),
        ("/insurance/eligibility", {"national_id": nid, "on": on, "service": service}),
    ):
        r = await client.get(path, params=params, headers=fund["doctor"])
        assert r.status_code in (200, 401, 404, 422), (path, params, r.text)


@pytest.fixture
async def citizen(kz, make_person, make_user, login):  # type: ignore[no-untyped-def]
    me = await make_person()
    return await login(await make_user("citizen", person_id=me.id))


@pytest.mark.anyio
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    on=anything,
    person=st.one_of(
        st.integers(),
        st.text(
            st.characters(categories=["L", "N", "P", "S"], exclude_characters="/?#%\\"),
            min_size=1,
            max_size=25,
        ),
    ),
)
async def test_the_citizens_lookups_are_answered_or_refused(client, citizen, on, person) -> None:
    r = await client.get("/api/v1/me/insurance", params={"on": on}, headers=citizen)
    assert r.status_code in (200, 422), r.text
    r = await client.get(f"/api/v1/me/insurance/{person}", params={"on": on}, headers=citizen)
    assert r.status_code in (200, 404, 422), r.text
