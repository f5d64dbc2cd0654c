"""The claim and review pages as a person reads and types them:

- a refused decision comes back with the decision chosen, the amount and the reason as
  typed, on that line's form only;
- an amount is read as the page's language writes it ("1,500" is 1 500.00 in English and
  refused in Russian, where "1 500,50" is 1 500.50), and amounts are shown that way;
- a refused claim names each line by its number and each field by its label, never by
  a code like ``lines.0.service_on``;
- a provider reads its own facility's settlements (with the CSV), sees each claim's
  status and the settlement of its month; the analyst's "lines waiting" opens the queue
  of that provider and month.

Amounts by hand from UZ/insurance_services.csv (the default pack of the tests):
DIALYSIS 690 000.00 so'm; EMERG-CALL 310 000.00.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from salomat.domains.insurance.models import ClaimLine
from salomat.domains.insurance.service import settlement
from tests.domains.insurance.claim_fixtures import line, submit
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio


async def _duplicate(db, make_provider, make_insuree, month):  # type: ignore[no-untyped-def]
    """A provider's claim of one DIALYSIS twice on a day: the second line flagged."""
    p = await make_provider()
    person = await make_insuree()
    out = await submit(db, p, [line(person, "DIALYSIS", month), line(person, "DIALYSIS", month)])
    return p, out


def _form_of(html: str, line_id: int) -> str:
    found = re.search(
        rf'data-testid="queue-line" data-line="{line_id}">(.*?)</article>', html, re.S
    )
    assert found is not None, html[:2000]
    return found.group(1)


async def test_a_refused_decision_keeps_what_was_chosen_and_typed(
    client, db, make_provider, make_insuree, make_user, fresh_month
):
    month = fresh_month()
    p, out = await _duplicate(db, make_provider, make_insuree, month)
    flagged = out.lines[1].id
    someone = await make_insuree()
    other = await submit(db, p, [line(someone, "EMERG-CALL", month)] * 2)  # another flag
    csrf = await web_login(client, await make_user("insurance_analyst"))
    r = await client.post(
        f"/insurance/review/lines/{flagged}?month={month:%Y-%m}",
        data={
            "csrf_token": csrf,
            "decision": "reduce",
            "amount_approved": "900,000.00",  # more than claimed: refused
            "reason": "one session paid",
        },
    )
    assert r.status_code == 422, r.text[:500]
    mine = _form_of(r.text, flagged)
    assert 'value="reduce" checked' in mine
    assert 'value="accept" checked' not in mine
    assert 'value="900,000.00"' in mine
    assert 'value="one session paid"' in mine
    assert 'data-testid="error-amount_approved"' in mine
    # the other line's form is as it was: accept, nothing typed
    theirs = _form_of(r.text, other.lines[1].id)
    assert 'value="accept" checked' in theirs
    assert "one session paid" not in theirs
    # the alert says values were refused, not a field's code
    alert = re.search(r'data-testid="review-error">(.*?)</p>', r.text, re.S)
    assert alert is not None
    assert "amount_approved" not in alert.group(1)


async def test_an_amount_is_read_as_the_page_language_writes_it(
    client, db, make_provider, make_insuree, make_user, fresh_month
):
    month = fresh_month()
    _, out = await _duplicate(db, make_provider, make_insuree, month)
    flagged = out.lines[1].id
    csrf = await web_login(client, await make_user("insurance_analyst"))
    # Russian: the comma is the decimal sign; "1,500" has three decimals: refused
    client.cookies.set("salomat_lang", "ru")
    r = await client.post(
        f"/insurance/review/lines/{flagged}",
        data={"csrf_token": csrf, "decision": "reduce", "amount_approved": "1,500", "reason": "x"},
    )
    assert r.status_code == 422, r.text[:500]
    assert 'data-testid="error-amount_approved"' in r.text
    # English: "1,500" is one thousand five hundred
    client.cookies.set("salomat_lang", "en")
    r = await client.post(
        f"/insurance/review/lines/{flagged}",
        data={"csrf_token": csrf, "decision": "reduce", "amount_approved": "1,500", "reason": "x"},
    )
    assert r.status_code == 303, r.text[:500]
    stored = await db.scalar(
        select(ClaimLine.amount_approved)
        .where(ClaimLine.id == flagged)
        .execution_options(populate_existing=True)
    )
    assert stored == 150_000


async def test_amounts_are_shown_as_the_page_language_writes_them(
    client, db, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p, out = await _duplicate(db, make_provider, make_insuree, month)
    await web_login(client, p.account)
    client.cookies.set("salomat_lang", "en")
    r = await client.get(f"/insurance/claims/{out.id}")
    assert "1,380,000.00" in r.text  # two DIALYSIS
    client.cookies.set("salomat_lang", "ru")
    r = await client.get(f"/insurance/claims/{out.id}")
    assert "1\u00a0380\u00a0000,00" in r.text


async def test_a_refused_claim_names_lines_and_fields_by_their_labels(
    client, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    csrf = await web_login(client, p.account)
    lines = f"{person.national_id},LAB-CBC,{month}\n{person.national_id},LAB-CBC,not-a-day\n"
    r = await client.post("/insurance/claims", data={"csrf_token": csrf, "lines": lines})
    assert r.status_code == 422, r.text[:500]
    row = re.search(
        r'data-testid="claim-error" data-line="2" data-field="service_on">(.*?)</tr>', r.text, re.S
    )
    assert row is not None, r.text[:3000]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[:2] == ["2", "Day of service"]
    refused = re.search(r'data-testid="claim-refused">(.*?)</section>', r.text, re.S)
    assert refused is not None
    assert "lines.1" not in refused.group(1)
    assert "<code>service_on</code>" not in refused.group(1)


async def test_a_provider_reads_its_settlements_and_its_claims_status(
    client, db, make_provider, make_insuree, make_user, reviewer, fresh_month
):
    month = fresh_month()
    p, out = await _duplicate(db, make_provider, make_insuree, month)
    other = await make_provider()
    await submit(db, other, [line(await make_insuree(), "EMERG-CALL", month)])
    await web_login(client, p.account)
    r = await client.get("/insurance/claims")
    row = re.search(rf'data-claim="{out.id}">(.*?)</tr>', r.text, re.S)
    assert row is not None
    status = re.search(r'data-testid="claim-status">(.*?)</td>', row.group(1), re.S)
    assert status is not None
    assert status.group(1).strip() == "submitted"
    assert 'data-testid="claim-settlement"' not in row.group(1)

    mine = await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await settlement.compute_settlement(db, reviewer, other.facility.id, month)
    await db.commit()
    await settlement.close_settlement(db, reviewer, mine.id)
    await db.commit()

    r = await client.get("/insurance/claims")
    row = re.search(rf'data-claim="{out.id}">(.*?)</tr>', r.text, re.S)
    assert row is not None
    assert re.search(r'data-testid="claim-status">\s*settled\s*<', row.group(1))
    link = f'href="/insurance/settlements?month={month:%Y-%m}" data-testid="claim-settlement"'
    assert link in row.group(1)
    r = await client.get(f"/insurance/claims/{out.id}")
    assert link in r.text

    r = await client.get(f"/insurance/settlements?month={month:%Y-%m}")
    assert r.status_code == 200
    rows = re.findall(r'data-testid="settlement-row" data-facility="([^"]+)"', r.text)
    assert rows == [p.facility.code]  # its own only
    assert 'data-testid="compute-form"' not in r.text
    assert 'data-testid="st-status" data-status="closed"' in r.text
    assert 'data-testid="st-waiting"' not in r.text  # the queue is the fund's
    csv_link = re.search(r'href="(/insurance/settlements/\d+\.csv)"', r.text)
    assert csv_link is not None
    r = await client.get(csv_link.group(1))
    assert r.status_code == 200
    assert r.text.splitlines()[-1] == "total,,,,690000.00"  # one DIALYSIS, the other waits
    # another provider's settlement: not found
    theirs = (
        await settlement.list_settlements(db, reviewer, month=month, facility_id=other.facility.id)
    )[0]
    assert (await client.get(f"/insurance/settlements/{theirs.id}.csv")).status_code == 404


async def test_the_lines_waiting_open_the_queue_of_that_provider_and_month(
    client, db, make_provider, make_insuree, make_user, reviewer, fresh_month
):
    month = fresh_month()
    p, _ = await _duplicate(db, make_provider, make_insuree, month)
    await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await db.commit()
    await web_login(client, await make_user("insurance_analyst"))
    r = await client.get(f"/insurance/settlements?month={month:%Y-%m}")
    row = re.search(
        rf'data-testid="settlement-row" data-facility="{p.facility.code}">(.*?)</tr>', r.text, re.S
    )
    assert row is not None
    link = re.search(r'<a href="([^"]+)" data-testid="st-waiting">1</a>', row.group(1))
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    assert href == f"/insurance/review?facility={p.facility.code}&month={month:%Y-%m}"
    r = await client.get(href)
    assert r.status_code == 200
    assert len(re.findall(r'data-testid="queue-line"', r.text)) == 1
