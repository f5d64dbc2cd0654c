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


async def mark(client, c, mid: int, body: dict[str, Any], headers=None, *, version: Any = 1):
    """POST the mark with ``If-Match: W/"<version>"`` (the version read; None: no If-Match)."""
    sent = dict(headers or c["nurse"])
    if version is not None:
        sent["If-Match"] = f'W/"{version}"' if isinstance(version, int) else version
    return await client.post(f"/api/v1/growth/{mid}/entered-in-error", json=body, headers=sent)


async def listed(client, c) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/persons/{c['child'].id}/growth", headers=c["nurse"])
    assert r.status_code == 200, r.text
    return r.json()


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

    assert [(m["id"], m["entered_in_error"]) for m in await listed(client, clinic)] == [
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
    assert first.json()["version"] == 2
    # at the version read after the mark: already marked
    again = await mark(client, clinic, m["id"], {"reason": "another reason"}, version=2)
    assert again.status_code == 409, again.text
    assert (await listed(client, clinic))[0]["error_reason"] == "wrong child"


# ---- If-Match: the version read, as every update takes -------------------------------------


async def test_the_measurement_answers_its_version_as_an_etag(client, clinic):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    assert m["version"] == 1
    read = await client.get(f"/api/v1/growth/{m['id']}", headers=clinic["nurse"])
    assert read.status_code == 200, read.text
    assert read.headers["ETag"] == 'W/"1"'
    assert (await listed(client, clinic))[0]["version"] == 1

    r = await mark(client, clinic, m["id"], {"reason": "scale not zeroed"}, version=1)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == 'W/"2"'
    assert (r.json()["version"], r.json()["entered_in_error"]) == (2, True)
    read = await client.get(f"/api/v1/growth/{m['id']}", headers=clinic["nurse"])
    assert read.headers["ETag"] == 'W/"2"'


async def test_without_if_match_it_is_412_and_nothing_changes(client, clinic, db):
    from salomat.core.audit import AuditEvent

    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    r = await mark(client, clinic, m["id"], {"reason": "wrong child"}, version=None)
    assert r.status_code == 412, r.text
    assert "If-Match" in r.json()["detail"]
    (row,) = await listed(client, clinic)
    assert (row["entered_in_error"], row["version"]) == (False, 1)
    updates = await db.scalar(
        select(AuditEvent.id).where(
            AuditEvent.resource_id == f"g{m['id']}", AuditEvent.action == "update"
        )
    )
    assert updates is None


async def test_a_stale_version_is_412_and_the_first_mark_stands(client, clinic, make_user, login):
    """Two clinicians read version 1; the first marks it; the second, still at 1, is refused."""
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    doctor = await login(await make_user("family_doctor", facility_code=clinic["facility"].code))
    first = await mark(client, clinic, m["id"], {"reason": "wrong child"}, version=1)
    assert first.status_code == 200, first.text
    second = await mark(client, clinic, m["id"], {"reason": "typed 76"}, doctor, version=1)
    assert second.status_code == 412, second.text
    assert "changed since you read it" in second.json()["detail"]
    (row,) = await listed(client, clinic)
    assert (row["error_reason"], row["error_marked_by"], row["version"]) == (
        "wrong child",
        clinic["account"].username,
        2,
    )


async def test_a_version_ahead_of_the_stored_one_is_412(client, clinic):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    r = await mark(client, clinic, m["id"], {"reason": "x"}, version=2)
    assert r.status_code == 412, r.text
    assert (await listed(client, clinic))[0]["entered_in_error"] is False


async def test_a_malformed_if_match_is_422_naming_it(client, clinic):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    r = await mark(client, clinic, m["id"], {"reason": "x"}, version="latest")
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"If-Match"}


@pytest.mark.parametrize("mid", [0, -1, 2**63, 10**30])
async def test_an_id_outside_the_64_bit_range_is_422_not_500(client, clinic, mid):
    for r in (
        await mark(client, clinic, mid, {"reason": "x"}),
        await client.get(f"/api/v1/growth/{mid}", headers=clinic["nurse"]),
    ):
        assert r.status_code == 422, r.text
        assert "measurement_id" in r.text


async def test_the_largest_64_bit_id_is_simply_not_found(client, clinic):
    assert (await mark(client, clinic, 2**63 - 1, {"reason": "x"})).status_code == 404
    read = await client.get(f"/api/v1/growth/{2**63 - 1}", headers=clinic["nurse"])
    assert read.status_code == 404


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
    assert (await listed(client, clinic))[0]["entered_in_error"] is False


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
        data={"csrf_token": csrf, "reason": "", "version": "1"},
    )
    assert refused.status_code == 422
    assert 'data-testid="eie-error"' in refused.text
    assert 'data-testid="error-reason"' in refused.text
    assert "data-entered-in-error" not in refused.text

    # the form carries the version the page read
    form = re.search(rf'data-testid="eie-form-{typo["id"]}">.*?</form>', page, re.S)
    assert form is not None
    assert '<input type="hidden" name="version" value="1">' in form.group(0)
    r = await client.post(
        f"/children/{clinic['child'].id}/growth/{typo['id']}/entered-in-error",
        data={"csrf_token": csrf, "reason": "76 typed for 7.6", "version": "1"},
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


async def test_the_button_on_a_page_read_before_another_mark_is_412(client, clinic):
    """The page showed version 1; another clinician marked it meanwhile: refused, and the row
    shows the other mark and why this one was refused."""
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    csrf = await web_login(client, clinic["account"])
    page = (await client.get(f"/children/{clinic['child'].id}")).text
    assert '<input type="hidden" name="version" value="1">' in page
    first = await mark(client, clinic, m["id"], {"reason": "wrong child"}, version=1)
    assert first.status_code == 200, first.text
    r = await client.post(
        f"/children/{clinic['child'].id}/growth/{m['id']}/entered-in-error",
        data={"csrf_token": csrf, "reason": "typed 76", "version": "1"},
    )
    assert r.status_code == 412, r.text
    row = re.search(rf'<tr [^>]*id="measurement-{m["id"]}"[^>]*>.*?</tr>', r.text, re.S)
    assert row is not None
    assert 'data-testid="eie-error"' in row.group(0)
    assert "changed since you read it" in row.group(0)
    assert "wrong child" in row.group(0)
    assert (await listed(client, clinic))[0]["error_reason"] == "wrong child"


async def test_the_button_without_a_version_is_412(client, clinic):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    csrf = await web_login(client, clinic["account"])
    r = await client.post(
        f"/children/{clinic['child'].id}/growth/{m['id']}/entered-in-error",
        data={"csrf_token": csrf, "reason": "typed 76"},
    )
    assert r.status_code == 412, r.text
    assert 'data-testid="eie-error"' in r.text
    assert (await listed(client, clinic))[0]["entered_in_error"] is False


@pytest.mark.parametrize("path", ["{child}/growth/{huge}", "{huge}/growth/{m}"])
async def test_the_button_with_an_id_beyond_64_bits_is_422_not_500(client, clinic, path):
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    csrf = await web_login(client, clinic["account"])
    url = "/children/" + path.format(child=clinic["child"].id, huge=2**64, m=m["id"])
    r = await client.post(
        f"{url}/entered-in-error", data={"csrf_token": csrf, "reason": "x", "version": "1"}
    )
    assert r.status_code == 422, r.text
    assert (await listed(client, clinic))[0]["entered_in_error"] is False


async def test_the_button_on_another_childs_measurement_is_404(client, clinic, make_person):
    other = await make_person(
        facility_code=clinic["facility"].code, birth_date=TODAY - timedelta(days=200)
    )
    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    csrf = await web_login(client, clinic["account"])
    r = await client.post(
        f"/children/{other.id}/growth/{m['id']}/entered-in-error",
        data={"csrf_token": csrf, "reason": "x", "version": "1"},
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
        entered_in_error=error, version=2 if error else 1,
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


async def test_a_mark_made_meanwhile_by_someone_else_makes_this_one_stale(client, clinic):
    """This session read version 1 before another clinician's mark was committed: the Python
    check passes on what it read, the UPDATE at version 1 finds no row, 412, nothing stored."""
    from salomat.core.db import session_factory
    from salomat.core.errors import PreconditionFailed
    from salomat.core.security import Principal
    from salomat.domains.child import service
    from salomat.domains.child.models import GrowthMeasurement

    m = await measure(client, clinic, TODAY, 7.6, 66.0)
    nurse = Principal(
        user_id=clinic["account"].id, username=clinic["account"].username, role="nurse",
        session_id="t", facility_id=clinic["facility"].id,
    )  # fmt: skip
    async with session_factory()() as s:
        read = await s.get(GrowthMeasurement, m["id"])
        assert read is not None
        assert read.version == 1
        other = await mark(client, clinic, m["id"], {"reason": "wrong child"}, version=1)
        assert other.status_code == 200, other.text
        with pytest.raises(PreconditionFailed, match="changed while you marked it"):
            await service.mark_measurement_entered_in_error(s, nurse, m["id"], "typed 76", 1)
        await s.rollback()
    (row,) = await listed(client, clinic)
    assert (row["error_reason"], row["version"]) == ("wrong child", 2)
