"""The vaccination card's contraindication, refusal and entered-in-error forms (no browser)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from tests.domains.maternal.test_birth import post_birth, twins
from tests.domains.maternal.test_pregnancy import clinic, open_pregnancy
from tests.domains.registry.test_web import field_error, web_login

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio

TODAY = date.today()


@pytest.fixture
async def baby_and_nurse(make_facility, make_person, make_user):
    fac = await make_facility()
    born = TODAY - timedelta(days=70)  # 10 weeks: the 2-month doses are due
    baby = await make_person(facility_code=fac.code, birth_date=born, sex="male")
    nurse = await make_user("nurse", facility_code=fac.code)
    return baby, nurse


def due_status(html: str, antigen: str, dose: int) -> str | None:
    m = re.search(
        rf'data-testid="due-dose" data-antigen="{antigen}" data-dose="{dose}" '
        rf'data-status="([a-z_]+)"',
        html,
    )
    return m.group(1) if m else None


async def exemptions_stored(person_id: int) -> int:
    from salomat.domains.immunization.models import Exemption

    async with session_factory()() as s:
        q = select(func.count()).where(Exemption.person_id == person_id)
        return int((await s.execute(q)).scalar_one())


def exemption(csrf: str, **kw: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "kind": "refusal",
        "antigen": "penta",
        "reason": "parents refuse",
        "starts_on": TODAY.isoformat(),
        "ends_on": "",
        **kw,
    }


async def test_a_refusal_makes_the_dose_exempt_and_withdrawing_it_makes_it_due_again(
    client, baby_and_nurse
):
    baby, nurse = baby_and_nurse
    csrf = await web_login(client, nurse)
    url = f"/patients/{baby.id}/immunizations"
    assert due_status((await client.get(url)).text, "penta", 1) == "due"

    r = await client.post(f"{url}/exemptions", data=exemption(csrf))
    assert r.status_code == 303, r.text
    page = (await client.get(r.headers["location"])).text
    assert 'data-testid="exempted"' in page
    assert due_status(page, "penta", 1) == "exempt"
    assert 'data-testid="exemption-kind">refusal<' in page
    assert due_status(page, "pcv", 1) == "due"  # only penta is refused

    exemption_id = re.search(r'data-testid="exemption" data-id="(\d+)"', page).group(1)
    r = await client.post(f"{url}/exemptions/{exemption_id}/withdraw", data={"csrf_token": csrf})
    assert r.status_code == 303, r.text
    page = (await client.get(r.headers["location"])).text
    assert 'data-testid="withdrawn"' in page
    assert due_status(page, "penta", 1) == "due"
    assert f'data-id="{exemption_id}" data-antigen="penta" data-active="false"' in page
    assert 'data-testid="withdraw-form"' not in page

    # the form sent twice: nothing to refuse, the card shows it withdrawn
    r = await client.post(f"{url}/exemptions/{exemption_id}/withdraw", data={"csrf_token": csrf})
    assert r.status_code == 303, r.text
    page = (await client.get(r.headers["location"])).text
    assert f'data-id="{exemption_id}" data-antigen="penta" data-active="false"' in page
    assert 'data-testid="withdraw-error"' not in page


async def test_a_refused_exemption_names_its_fields_and_stores_nothing(client, baby_and_nurse):
    baby, nurse = baby_and_nurse
    csrf = await web_login(client, nurse)
    url = f"/patients/{baby.id}/immunizations/exemptions"

    r = await client.post(url, data=exemption(csrf, kind="maybe", reason=""))
    assert r.status_code == 422
    assert field_error(r.text, "kind")
    assert field_error(r.text, "reason")
    assert 'data-testid="exemption-error"' in r.text

    until = (TODAY - timedelta(days=1)).isoformat()
    r = await client.post(url, data=exemption(csrf, antigen="smallpox", ends_on=until))
    assert r.status_code == 422
    assert "smallpox" in field_error(r.text, "antigen")
    assert field_error(r.text, "ends_on")
    # the input is shown again
    assert f'name="ends_on" type="date" value="{until}"' in r.text
    assert 'value="parents refuse"' in r.text
    assert await exemptions_stored(baby.id) == 0


async def test_a_dose_entered_in_error_after_confirming_is_due_again(client, baby_and_nurse):
    baby, nurse = baby_and_nurse
    csrf = await web_login(client, nurse)
    url = f"/patients/{baby.id}/immunizations"
    r = await client.post(
        url,
        data={"csrf_token": csrf, "dose": "penta/1", "vaccine": "penta", "given_on": str(TODAY)},
    )
    assert r.status_code == 303, r.text
    card = (await client.get(url)).text
    assert due_status(card, "penta", 1) is None
    dose_id = re.search(r'href="\?entered_in_error=(\d+)#entered-in-error"', card).group(1)
    assert 'data-testid="eie-form"' not in card  # only after choosing the dose

    confirm = (await client.get(f"{url}?entered_in_error={dose_id}")).text
    assert 'data-testid="eie-form"' in confirm
    version = re.search(r'name="version" value="(\d+)"', confirm).group(1)
    target = f"{url}/{dose_id}/entered-in-error"

    # without the version read (If-Match) it is refused and nothing changes
    r = await client.post(target, data={"csrf_token": csrf, "reason": "wrong child"})
    assert r.status_code == 412
    assert 'data-testid="eie-error"' in r.text
    assert due_status(r.text, "penta", 1) is None
    r = await client.post(
        target, data={"csrf_token": csrf, "reason": "x" * 301, "version": version}
    )
    assert r.status_code == 422
    assert field_error(r.text, "reason")

    r = await client.post(
        target, data={"csrf_token": csrf, "reason": "wrong child", "version": version}
    )
    assert r.status_code == 303, r.text
    page = (await client.get(r.headers["location"])).text
    assert 'data-testid="entered-in-error"' in page
    assert due_status(page, "penta", 1) == "due"
    assert 'data-antigen="penta" data-dose="1" data-valid' not in page

    # the same form again (sent twice): nothing to refuse, the card shows the dose as it is
    r = await client.post(
        target, data={"csrf_token": csrf, "reason": "wrong child", "version": version}
    )
    assert r.status_code == 303, r.text
    page = (await client.get(r.headers["location"])).text
    assert 'data-testid="entered-in-error"' in page
    assert 'data-testid="eie-error"' not in page


async def test_a_mother_reads_her_babys_card_without_any_form(client, clinic, make_user, login):
    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=39))
    born = await post_birth(client, clinic, preg, twins())
    assert born.status_code == 201, born.text
    baby = born.json()["babies"][0]["person_id"]
    api = f"/api/v1/persons/{baby}"
    r = await client.post(
        f"{api}/immunizations",
        json={"antigen": "bcg", "dose_number": 1, "given_on": str(TODAY), "vaccine": "bcg"},
        headers=clinic.doctor,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{api}/immunization-exemptions",
        json={"kind": "contraindication", "antigen": "hepb", "reason": "observation"},
        headers=clinic.doctor,
    )
    assert r.status_code == 201, r.text
    forms = ("dose-form", "exemption-form", "withdraw-form", "enter-error-link")

    doctor = await make_user("family_doctor", facility_code=clinic.facility.code)
    await web_login(client, doctor)
    seen = await client.get(f"/patients/{baby}/immunizations")
    assert seen.status_code == 200
    assert all(f'data-testid="{f}"' in seen.text for f in forms)

    client.cookies.clear()
    mother = await make_user("citizen", person_id=clinic.woman.id)
    csrf = await web_login(client, mother)
    page = await client.get(f"/patients/{baby}/immunizations")
    assert page.status_code == 200, page.text
    assert 'data-testid="exemption"' in page.text
    assert not [f for f in forms if f'data-testid="{f}"' in page.text]
    r = await client.post(f"/patients/{baby}/immunizations/exemptions", data=exemption(csrf))
    assert r.status_code == 403
    assert await exemptions_stored(baby) == 1


async def test_a_role_without_the_permission_gets_403_and_nothing_is_stored(
    client, baby_and_nurse, make_user
):
    baby, _nurse = baby_and_nurse
    registrar = await make_user("registrar")
    csrf = await web_login(client, registrar)
    url = f"/patients/{baby.id}/immunizations"
    r = await client.post(f"{url}/exemptions", data=exemption(csrf))
    assert r.status_code == 403
    r = await client.post(f"{url}/exemptions/1/withdraw", data={"csrf_token": csrf})
    assert r.status_code == 403
    r = await client.post(f"{url}/1/entered-in-error", data={"csrf_token": csrf, "version": "1"})
    assert r.status_code == 403
    assert await exemptions_stored(baby.id) == 0
