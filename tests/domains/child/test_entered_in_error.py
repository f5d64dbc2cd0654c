"""A measurement entered in error: marked by a clinician with a reason, audited, kept in the
record (struck through), and out of the charts, the z-score trend, the print; FHIR says
``entered-in-error``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from salomat.domains.child.schemas import MeasurementOut
from salomat.domains.child.service import zscore_trend
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio

TODAY = date.today()


@pytest.fixture
async def clinic(make_facility, make_person, make_user, login) -> dict[str, Any]:
    """A girl of 300 days with two measurements: a plausible one and a typing error."""
    fac = await make_facility()
    child = await make_person(
        facility_code=fac.code, sex="female", birth_date=TODAY - timedelta(days=300)
    )
    account = await make_user("nurse", facility_code=fac.code)
    nurse = await login(account)
    return {"facility": fac, "child": child, "account": account, "nurse": nurse}


async def measure(client, c, on: date, kg: float, cm: float) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/persons/{c['child'].id}/growth",
        json={"measured_on": on.isoformat(), "weight_kg": kg, "length_or_height_cm": cm},
        headers=c["nurse"],
    )
    assert r.status_code == 201, r.text
    return r.json()


async def mark(client, c, mid: int, body: dict[str, Any], headers=None):
    return await client.post(
        f"/api/v1/growth/{mid}/entered-in-error", json=body, headers=headers or c["nurse"]
    )


async def test_the_nurse_marks_a_typing_error_and_it_stays_in_the_record(client, clinic, db):
    from salomat.core.audit import AuditEvent

    good = await measure(client, clinic, TODAY - timedelta(days=30), 7.6, 66.0)
    typo = await measure(client, clinic, TODAY - timedelta(days=1), 76.0, 68.0)
    assert "wfa" in typo["implausible"]

    r = await mark(client, clinic, typo["id"], {"reason": "  76 typed for 7.6 kg  "})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["entered_in_error"] is True
    assert out["error_reason"] == "76 typed for 7.6 kg"
    assert out["error_marked_by"] == clinic["account"].username
    assert out["error_marked_at"] is not None
    # the z-scores as recorded are kept
    assert out["wfa_z"] == typo["wfa_z"]

    listed = (
        await client.get(f"/api/v1/persons/{clinic['child'].id}/growth", headers=clinic["nurse"])
    ).json()
    assert [(m["id"], m["entered_in_error"]) for m in listed] == [
        (good["id"], False),
        (typo["id"], True),
    ]
    passport = (
        await client.get(f"/api/v1/persons/{clinic['child'].id}/passport", headers=clinic["nurse"])
    ).json()
    assert len(passport["measurements"]) == 2
    wfa = next(t for t in passport["trend"] if t["indicator"] == "wfa")
    assert (wfa["z"], wfa["previous_z"]) == (good["wfa_z"], None)

    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_id, AuditEvent.detail).where(
                AuditEvent.patient_id == clinic["child"].id, AuditEvent.action == "update"
            )
        )
    ).all()
    assert ("update", f"g{typo['id']}", "entered in error: 76 typed for 7.6 kg") in rows


async def test_marking_twice_is_409_and_nothing_changes(client, clinic):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    first = await mark(client, clinic, m["id"], {"reason": "wrong child"})
    assert first.status_code == 200
    again = await mark(client, clinic, m["id"], {"reason": "another reason"})
    assert again.status_code == 409, again.text
    listed = (
        await client.get(f"/api/v1/persons/{clinic['child'].id}/growth", headers=clinic["nurse"])
    ).json()
    assert listed[0]["error_reason"] == "wrong child"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "   "}, "reason"),
     ({"reason": "x" * 501}, "reason"), ({"reason": "ok", "extra": 1}, "extra")],
)  # fmt: skip
async def test_a_reason_is_required(client, clinic, body, field):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    r = await mark(client, clinic, m["id"], body)
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {field}
    listed = (
        await client.get(f"/api/v1/persons/{clinic['child'].id}/growth", headers=clinic["nurse"])
    ).json()
    assert listed[0]["entered_in_error"] is False


async def test_who_may_mark(client, clinic, make_user, login):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    obstetrician = await login(
        await make_user("obstetrician", facility_code=clinic["facility"].code)
    )
    assert (await mark(client, clinic, m["id"], {"reason": "x"}, obstetrician)).status_code == 403
    stranger = await login(await make_user("nurse"))
    assert (await mark(client, clinic, m["id"], {"reason": "x"}, stranger)).status_code == 404
    assert (await mark(client, clinic, 10**9, {"reason": "x"})).status_code == 404


async def test_fhir_observations_of_a_marked_measurement_are_entered_in_error(client, clinic):
    kept = await measure(client, clinic, TODAY - timedelta(days=5), 7.6, 66.0)
    wrong = await measure(client, clinic, TODAY, 6.0, 66.0)
    marked = await mark(client, clinic, wrong["id"], {"reason": "scale not zeroed"})
    assert marked.status_code == 200, marked.text
    found = (
        await client.get(f"/fhir/Observation?patient={clinic['child'].id}", headers=clinic["nurse"])
    ).json()
    status = {
        e["resource"]["id"]: e["resource"]["status"]
        for e in found.get("entry", [])
        if e["resource"]["id"].startswith("g")
    }
    assert status[f"g{kept['id']}-weight"] == "final"
    assert status[f"g{wrong['id']}-weight"] == "entered-in-error"
    assert status[f"g{wrong['id']}-length"] == "entered-in-error"
    one = await client.get(f"/fhir/Observation/g{wrong['id']}-weight", headers=clinic["nurse"])
    assert one.json()["status"] == "entered-in-error"


# ---- the page: a button with a reason; struck through; out of the chart and the print ------


async def test_the_web_button_marks_it_and_the_chart_and_print_leave_it_out(client, clinic):
    good = await measure(client, clinic, TODAY - timedelta(days=30), 7.6, 66.0)
    typo = await measure(client, clinic, TODAY - timedelta(days=1), 76.0, 68.0)
    csrf = await web_login(client, clinic["account"])
    page = (await client.get(f"/children/{clinic['child'].id}")).text
    assert f'data-testid="eie-form-{typo["id"]}"' in page
    assert f'data-measurement="{typo["id"]}"' in page  # a chart point

    # no reason: refused beside the row, nothing stored
    refused = await client.post(
        f"/children/{clinic['child'].id}/growth/{typo['id']}/entered-in-error",
        data={"csrf_token": csrf, "reason": ""},
    )
    assert refused.status_code == 422
    assert 'data-testid="eie-error"' in refused.text
    assert 'data-testid="error-reason"' in refused.text
    assert "data-entered-in-error" not in refused.text

    r = await client.post(
        f"/children/{clinic['child'].id}/growth/{typo['id']}/entered-in-error",
        data={"csrf_token": csrf, "reason": "76 typed for 7.6"},
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == (
        f"/children/{clinic['child'].id}?marked={typo['id']}#measurement-{typo['id']}"
    )
    page = (await client.get(r.headers["location"])).text
    assert 'data-testid="marked"' in page
    row = re.search(rf'<tr [^>]*id="measurement-{typo["id"]}"[^>]*>.*?</tr>', page, re.S)
    assert row is not None
    assert 'data-entered-in-error="1"' in row.group(0)
    assert "<s>" in row.group(0)
    assert "76 typed for 7.6" in row.group(0)
    assert f'data-testid="eie-form-{typo["id"]}"' not in page
    points = re.findall(r'data-testid="growth-point" data-measurement="(\d+)"', page)
    assert str(typo["id"]) not in points
    assert str(good["id"]) in points

    printed = (await client.get(f"/children/{clinic['child'].id}/passport/print")).text
    assert f'id="measurement-{good["id"]}"' in printed
    assert f'id="measurement-{typo["id"]}"' not in printed
    assert "76 typed for 7.6" not in printed
    assert 'data-testid="eie-form' not in printed


async def test_the_button_on_another_childs_measurement_is_404(client, clinic, make_person):
    other = await make_person(
        facility_code=clinic["facility"].code, birth_date=TODAY - timedelta(days=200)
    )
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    csrf = await web_login(client, clinic["account"])
    r = await client.post(
        f"/children/{other.id}/growth/{m['id']}/entered-in-error",
        data={"csrf_token": csrf, "reason": "x"},
    )
    assert r.status_code == 404


# ---- the trend (pure) ----------------------------------------------------------------------


def _m(
    i: int, on: date, wfa: float | None, *, error: bool = False, implausible=()
) -> MeasurementOut:
    return MeasurementOut(
        id=i, person_id=1, measured_on=on, age_days=300, sex="female", weight_kg=7.0,
        length_or_height_cm=None, measured_lying=None, head_circumference_cm=None,
        muac_cm=None, bmi=None, wfa_z=wfa, lhfa_z=None, wfl_or_wfh=None, wfl_or_wfh_z=None,
        bmifa_z=None, hcfa_z=None, implausible=list(implausible), classification=[],
        facility_id=None, recorded_by="n", recorded_at=datetime.now(UTC),
        entered_in_error=error,
    )  # fmt: skip


def test_the_trend_skips_errors_and_implausible_z_scores():
    d = date(2026, 1, 1)
    ms = [
        _m(1, d, -1.0),
        _m(2, d + timedelta(days=30), -1.5),
        _m(3, d + timedelta(days=60), 5.9, implausible=["wfa"]),
        _m(4, d + timedelta(days=90), -4.0, error=True),
    ]
    (t,) = zscore_trend(ms)
    assert (t.indicator, t.z, t.previous_z, t.change, t.on) == (
        "wfa",
        -1.5,
        -1.0,
        -0.5,
        d + timedelta(days=30),
    )
    # the error unmarked would have been the latest
    ms[3] = _m(4, d + timedelta(days=90), -4.0)
    assert zscore_trend(ms)[0].z == -4.0
    assert zscore_trend([_m(1, d, None)]) == []
