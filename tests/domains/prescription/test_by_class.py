"""A patient's prescriptions of some medicine classes (ATC prefixes), the list another
domain's page loads with htmx: the classes it matches at each ATC level, active ones first
with their status, dates and what was dispensed; a malformed class is refused naming
``atc``; out of scope is 404 and audited like the patient's prescriptions page."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.prescription import service
from tests.domains.prescription.test_prescribing import clinic, post, rx
from tests.domains.registry.test_web import web_login
from tests.factories import unique

pytestmark = pytest.mark.anyio

__all__ = ["clinic"]

TODAY = date.today()
HEADER = "code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price"
HX = {"HX-Request": "true"}


def _url(person_id: int, *atc: str) -> str:
    return f"/patients/{person_id}/prescriptions/by-class?" + "&".join(f"atc={a}" for a in atc)


def _items(html: str) -> list[tuple[str, str, str, str]]:
    """(id, atc, status, dispensed) of each listed prescription, in the page's order."""
    return re.findall(
        r'data-testid="rx-class-item" data-id="(\d+)" data-atc="(\w*)" '
        r'data-status="(\w+)" data-dispensed="(\w+)"',
        html,
    )


# ---- the classes: an ATC code at any of its five levels ---------------------------------


@pytest.mark.parametrize(
    ("given_", "kept"),
    [
        ("C", "C"),  # anatomical main group
        ("C09", "C09"),  # therapeutic subgroup
        ("C09A", "C09A"),  # pharmacological subgroup
        ("C09AA", "C09AA"),  # chemical subgroup
        ("C09AA02", "C09AA02"),  # the substance
        (" c09aa ", "C09AA"),  # typed in lower case with spaces
        ("S01E", "S01E"),
    ],
)
def test_each_atc_level_is_a_class(given_, kept):
    assert service.atc_prefixes([given_]) == (kept,)


@pytest.mark.parametrize(
    "wrong",
    [
        "",
        "C0",  # one digit short of a level
        "C09AA0",  # one digit short of the substance
        "C09AA021",  # one character past the substance
        "C9A",
        "E11",  # an ICD-10 code, not ATC (E is no anatomical group)
        "C09%",  # a LIKE wildcard
        "C0_",
        "I10",
        "C09 AA",
        "C\u0660\u0669",  # Arabic-Indic digits: not the index's digits
        "\u017f01",  # the long s, which upper-cases to S
    ],
)
def test_anything_else_is_refused_naming_atc(wrong):
    with pytest.raises(Invalid) as e:
        service.atc_prefixes([wrong])
    assert [f.field for f in e.value.errors] == ["atc"]


def test_no_class_and_too_many_are_refused_and_repeats_kept_once():
    with pytest.raises(Invalid) as e:
        service.atc_prefixes([])
    assert e.value.errors[0].field == "atc"
    codes = [f"C{n:02d}" for n in range(1, service.MAX_ATC_PREFIXES + 1)]
    assert service.atc_prefixes(codes) == tuple(codes)  # at the limit
    with pytest.raises(Invalid):
        service.atc_prefixes([*codes, "A10"])  # one above
    assert service.atc_prefixes(["C08", "c08", "C09"]) == ("C08", "C09")


_GROUPS = "ABCDGHJLMNPRSV"
_LETTER = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = st.integers(0, 99).map(lambda n: f"{n:02d}")
_LEVELS = st.tuples(st.sampled_from(_GROUPS), _DIGITS, _LETTER, _LETTER, _DIGITS)


@given(_LEVELS, st.integers(1, 5))
def test_hypothesis_every_level_of_a_well_formed_code_is_accepted(parts, levels):
    code = "".join(parts[:levels])
    assert service.atc_prefixes([code]) == (code,)


@given(st.text(max_size=9))
def test_hypothesis_any_text_is_a_class_or_refused_naming_atc(text):
    typed = text.strip().upper()
    well_formed = text.isascii() and re.fullmatch(
        r"[ABCDGHJLMNPRSV]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?", typed
    )
    if not well_formed:
        with pytest.raises(Invalid) as e:
            service.atc_prefixes([text])
        assert {f.field for f in e.value.errors} == {"atc"}
    else:
        assert service.atc_prefixes([text]) == (text.strip().upper(),)


# ---- the list -----------------------------------------------------------------------------


async def _more_medicines(db) -> dict[str, str]:
    codes = {"enalapril": unique("ENA"), "bisoprolol": unique("BIS")}
    report = await service.import_formulary(
        db,
        "\n".join(
            [
                HEADER,
                f"{codes['enalapril']},enalapril,C09AA02,,tablet,10 mg,tablet,30,900000",
                f"{codes['bisoprolol']},bisoprolol,C07AB07,,tablet,5 mg,tablet,30,800000",
            ]
        ),
    )
    assert not report.errors
    await db.commit()
    return codes


async def _set(db, prescription_id: int, **values) -> None:
    from sqlalchemy import update

    from salomat.domains.prescription.models import Prescription

    await db.execute(
        update(Prescription).where(Prescription.id == prescription_id).values(**values)
    )
    await db.commit()


async def test_active_first_with_status_dates_and_dispensing(client, clinic, db, make_user):
    more = await _more_medicines(db)
    old = (await post(client, clinic, rx(clinic.amlodipine))).json()
    r = await client.post(
        f"/api/v1/prescriptions/{old['id']}/cancel", json={"reason": "dose"}, headers=clinic.doctor
    )
    assert r.status_code == 200, r.text
    aml = (await post(client, clinic, rx(clinic.amlodipine))).json()
    ena = (await post(client, clinic, rx(more["enalapril"]))).json()
    bis = (await post(client, clinic, rx(more["bisoprolol"]))).json()
    met = (await post(client, clinic, rx(clinic.metformin, diagnosis="E11.9"))).json()
    # enalapril: active, issued 20 days ago, 10 of 30 given; amlodipine: active, today;
    # bisoprolol: given in full yesterday; the cancelled amlodipine: 40 days ago
    await _set(db, ena["id"], issued_on=TODAY - timedelta(days=20), dispensed_units=10)
    await _set(db, bis["id"], status="dispensed", dispensed_units=30)
    await _set(db, old["id"], issued_on=TODAY - timedelta(days=40))
    await web_login(client, await make_user("family_doctor", facility_code=clinic.facility.code))

    r = await client.get(_url(clinic.patient.id, "C07", "C08", "C09"), headers=HX)
    assert r.status_code == 200, r.text
    assert "<html" not in r.text  # a partial for htmx
    assert _items(r.text) == [
        (str(aml["id"]), "C08CA01", "active", "none"),
        (str(ena["id"]), "C09AA02", "active", "part"),
        (str(bis["id"]), "C07AB07", "dispensed", "all"),
        (str(old["id"]), "C08CA01", "cancelled", "none"),
    ]
    assert str(met["id"]) not in {i[0] for i in _items(r.text)}
    assert aml["code"] in r.text
    assert f'<time datetime="{aml["valid_until"]}">' in r.text
    assert f'<time datetime="{(TODAY - timedelta(days=20)).isoformat()}">' in r.text  # issued
    assert f'href="/patients/{clinic.patient.id}/prescriptions#prescribe"' in r.text

    # without htmx: a page of its own with the same list
    page = await client.get(_url(clinic.patient.id, "C07", "C08", "C09"))
    assert page.status_code == 200
    assert "<html" in page.text
    assert [i[0] for i in _items(page.text)] == [i[0] for i in _items(r.text)]

    # A10: only the metformin
    r = await client.get(_url(clinic.patient.id, "A10"), headers=HX)
    assert [i[0] for i in _items(r.text)] == [str(met["id"])]

    # no class given: every class, active first
    r = await client.get(f"/patients/{clinic.patient.id}/prescriptions/by-class")
    assert r.status_code == 200, r.text
    assert [(i[0], i[2]) for i in _items(r.text)] == [
        (str(met["id"]), "active"),
        (str(aml["id"]), "active"),
        (str(ena["id"]), "active"),
        (str(bis["id"]), "dispensed"),
        (str(old["id"]), "cancelled"),
    ]


async def test_a_lapsed_one_is_listed_expired_after_the_active(client, clinic, db, make_user):
    more = await _more_medicines(db)
    ena = (await post(client, clinic, rx(more["enalapril"]))).json()
    aml = (await post(client, clinic, rx(clinic.amlodipine))).json()
    await _set(
        db,
        aml["id"],
        issued_on=TODAY - timedelta(days=31),
        valid_until=TODAY - timedelta(days=1),  # one day past its last valid day
    )
    await _set(db, ena["id"], issued_on=TODAY - timedelta(days=60), valid_until=TODAY)
    await web_login(client, await make_user("family_doctor", facility_code=clinic.facility.code))
    r = await client.get(_url(clinic.patient.id, "C"), headers=HX)
    # enalapril's last valid day is today: still active, listed before the newer lapsed one
    assert [(i[0], i[2]) for i in _items(r.text)] == [
        (str(ena["id"]), "active"),
        (str(aml["id"]), "expired"),
    ]


@pytest.mark.parametrize(
    ("prefix", "listed"),
    [
        ("C08", True),
        ("C08C", True),
        ("C08D", False),  # the next pharmacological subgroup
        ("C08CA", True),
        ("C08CA01", True),
        ("C08CA02", False),  # the next substance
        ("C07", False),
    ],
)
async def test_a_class_matches_at_its_level_only(client, clinic, make_user, prefix, listed):
    aml = (await post(client, clinic, rx(clinic.amlodipine))).json()
    await web_login(client, await make_user("nurse", facility_code=clinic.facility.code))
    r = await client.get(_url(clinic.patient.id, prefix), headers=HX)
    assert r.status_code == 200, r.text
    assert ([i[0] for i in _items(r.text)] == [str(aml["id"])]) is listed
    if not listed:
        assert 'data-testid="rx-class-none"' in r.text
    assert 'data-testid="rx-prescribe"' not in r.text  # a nurse does not prescribe


async def test_a_malformed_class_is_422_naming_atc_and_reads_nothing(client, clinic, db, make_user):
    from sqlalchemy import func, select

    from salomat.core.audit import AuditEvent

    await web_login(client, await make_user("family_doctor", facility_code=clinic.facility.code))

    async def audited() -> int:
        return await db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.patient_id == clinic.patient.id)
        )

    before = await audited()
    for query in ("atc=C0", "atc=C08&atc=E11", "atc=C08%25", "atc=", "atc=C08&atc="):
        url = f"/patients/{clinic.patient.id}/prescriptions/by-class?{query}"
        r = await client.get(url, headers=HX)
        assert r.status_code == 422, (query, r.text)
        assert re.search(r"<(strong|code)>atc</", r.text), query
        page = await client.get(url)
        assert page.status_code == 422
        assert "atc" in page.text
    assert await audited() == before


async def test_out_of_scope_is_404_other_roles_403_and_the_read_is_audited(
    client, clinic, db, make_user
):
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    await post(client, clinic, rx(clinic.amlodipine))
    url = _url(clinic.patient.id, "C08")
    await web_login(client, await make_user("family_doctor"))  # another facility
    assert (await client.get(url, headers=HX)).status_code == 404
    assert (await client.get(_url(10**12, "C08"))).status_code == 404
    await web_login(client, await make_user("pharmacist"))
    assert (await client.get(url)).status_code == 403
    await web_login(client, await make_user("family_doctor", facility_code=clinic.facility.code))
    assert (await client.get(url, headers=HX)).status_code == 200
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_type).where(
                AuditEvent.patient_id == clinic.patient.id
            )
        )
    ).all()
    assert ("search", "MedicationRequest") in rows


async def test_the_citizen_sees_her_own_without_a_prescribe_link(client, clinic, make_user):
    aml = (await post(client, clinic, rx(clinic.amlodipine))).json()
    await web_login(client, await make_user("citizen", person_id=clinic.patient.id))
    r = await client.get(_url(clinic.patient.id, "C08"), headers=HX)
    assert r.status_code == 200, r.text
    assert [i[0] for i in _items(r.text)] == [str(aml["id"])]
    assert 'data-testid="rx-prescribe"' not in r.text
