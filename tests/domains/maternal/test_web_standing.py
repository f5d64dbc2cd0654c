"""The obstetric record page: standing diagnoses, where they came from, resolving one."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.domains.maternal.test_web import contact_form, hidden, open_record, woman_and_doctor
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio
TODAY = date.today()
__all__ = ["woman_and_doctor"]

SEVERE = {
    "systolic_1": "150",
    "diastolic_1": "95",
    "systolic_2": "150",
    "diastolic_2": "95",
    "urine_protein": "++",
    "symptoms": "severe_headache",
}


async def test_a_standing_diagnosis_shows_its_contact_and_is_resolved_with_a_reason(
    client, woman_and_doctor
):
    woman, doctor = woman_and_doctor
    csrf = await web_login(client, doctor)
    url = f"/patients/{woman.id}/pregnancy"
    page = await open_record(client, woman, csrf)
    first_on = TODAY - timedelta(days=7)
    r = await client.post(
        f"{url}/contacts", data=contact_form(csrf, page, on=first_on.isoformat(), **SEVERE)
    )
    assert r.status_code == 303, r.text
    page = (await client.get(url)).text
    normal = {"systolic_1": "118", "diastolic_1": "76", "systolic_2": "116", "diastolic_2": "74"}
    r = await client.post(f"{url}/contacts", data=contact_form(csrf, page, **normal))
    assert r.status_code == 303, r.text
    page = (await client.get(url)).text
    row = re.search(
        r'<tr data-testid="diagnosis" data-code="severe_pre_eclampsia"[^>]*>(.*?)</tr>',
        page,
        re.S,
    )
    assert row, page
    since = re.search(r'data-testid="diagnosis-since">(.*?)</td>', row.group(1), re.S).group(1)
    assert "contact 1" in since
    values = re.search(r'data-testid="diagnosis-values">(.*?)</td>', row.group(1), re.S).group(1)
    # labels, not the rules' codes
    assert "urine protein: ++" in values
    assert "severe headache" in values
    assert "urine_protein" not in values
    assert "severe_headache" not in values
    assert first_on.strftime("%d.%m.%Y") in since
    assert re.search(r'data-testid="risk"><span class="badge warn">high<', page)

    action = re.search(r'action="(/patients/\d+/pregnancy/diagnoses/\d+/resolve)"', row.group(1))
    form = {
        "csrf_token": csrf,
        "pregnancy_id": hidden(page, "pregnancy_id"),
        "version": hidden(page, "version"),
        "reason": "resolved",
        "note": "",
    }
    refused = await client.post(action.group(1), data=form)
    assert refused.status_code == 422
    assert 'data-testid="resolve-error"' in refused.text
    assert 'data-code="severe_pre_eclampsia"' in refused.text  # nothing changed
    r = await client.post(action.group(1), data={**form, "note": "delivered at the centre"})
    assert r.status_code == 303, r.text
    after = (await client.get(r.headers["location"])).text
    assert 'data-testid="resolved"' in after
    assert 'data-testid="no-diagnoses"' in after
    assert "delivered at the centre" in after
