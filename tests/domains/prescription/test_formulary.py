"""The formulary: the CSV's row-by-row report, the import (all or nothing), the pack's rules."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.prescription import service
from tests.factories import unique

pytestmark = pytest.mark.anyio

HEADER = "code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price"


def row(code: str, **kw: str) -> str:
    v = {
        "inn": "amlodipine",
        "atc": "C08CA01",
        "trade_name": "Norvasc",
        "form": "tablet",
        "strength": "5 mg",
        "unit": "tablet",
        "units_per_package": "30",
        "reference_price": "1500000",
        **kw,
    }
    return ",".join([code, *(v[c] for c in HEADER.split(",")[1:])])


def csv_text(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def test_the_report_names_line_column_and_reason():
    good = row("A-1")
    text = csv_text(
        good,
        row("A-2", atc="C8CA01"),
        row("A-3", units_per_package="0", reference_price="15.50"),
        row("A-1"),
        row("", inn=""),
    )
    rows, errors = service.check_formulary_csv(text)
    assert [r["code"] for r in rows] == ["A-1"]
    got = {(e.line, e.column) for e in errors}
    assert got == {
        (3, "atc"),
        (4, "units_per_package"),
        (4, "reference_price"),
        (5, "code"),
        (6, "code"),
        (6, "inn"),
    }
    reasons = {(e.line, e.column): e.reason for e in errors}
    assert "level-5 ATC" in reasons[(3, "atc")]
    assert "repeats line 2" in reasons[(5, "code")]
    assert "minor units" in reasons[(4, "reference_price")]


def test_a_header_without_a_required_column_is_refused():
    rows, errors = service.check_formulary_csv("code,inn\nX,amlodipine\n")
    assert rows == []
    assert {e.column for e in errors} >= {"atc", "form", "unit", "reference_price"}
    assert all(e.line == 1 for e in errors)


LEVEL5 = re.compile(r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$")
ATC_ALPHABET = string.ascii_uppercase + string.digits + "x- "


@given(st.text(alphabet=ATC_ALPHABET, min_size=0, max_size=9))
def test_the_atc_validator_accepts_exactly_level_5_codes(atc):
    rows, errors = service.check_formulary_csv(csv_text(row("P-1", atc=atc)))
    ok = bool(LEVEL5.match(atc.strip().upper()))
    assert (not errors) == ok, (atc, errors)
    assert bool(rows) == ok


@given(
    st.integers(min_value=-5, max_value=10**9),
    st.integers(min_value=-5, max_value=10**9),
)
def test_the_row_validator_on_package_size_and_price(units, price):
    _, errors = service.check_formulary_csv(
        csv_text(row("P-2", units_per_package=str(units), reference_price=str(price)))
    )
    bad = {e.column for e in errors}
    assert ("units_per_package" in bad) == (units < 1)
    assert ("reference_price" in bad) == (price < 0)


async def test_one_bad_row_stores_nothing_and_a_good_file_is_added_then_updated(db):
    a, b = unique("FA"), unique("FB")
    report = await service.import_formulary(db, csv_text(row(a), row(b, atc="bad")))
    assert report.stored is False
    assert [(e.line, e.column) for e in report.errors] == [(3, "atc")]
    assert await service.medicine_by_code(db, a) is None

    dry = await service.import_formulary(db, csv_text(row(a), row(b)), dry_run=True)
    assert (dry.created, dry.stored) == (2, False)
    assert await service.medicine_by_code(db, a) is None

    report = await service.import_formulary(db, csv_text(row(a), row(b)))
    await db.commit()
    assert (report.created, report.updated, report.stored) == (2, 0, True)
    again = await service.import_formulary(db, csv_text(row(a, reference_price="1700000")))
    await db.commit()
    assert (again.created, again.updated) == (0, 1)
    m = await service.medicine_by_code(db, a)
    assert m is not None
    assert m.reference_price == 1700000
    assert m.atc == "C08CA01"


async def test_rest_import_is_for_the_admin_and_the_list_for_staff(
    client, make_user, login, make_facility
):
    admin = await login(await make_user("admin"))
    doctor = await login(await make_user("family_doctor"))
    code = unique("RI")
    body = csv_text(row(code, inn="zz-testamine", atc="C09AA05"))
    headers = {"content-type": "text/csv"}
    r = await client.post("/api/v1/formulary/import", content=body, headers={**doctor, **headers})
    assert r.status_code == 403
    bad = csv_text(row(code, atc="C09AA5"))
    r = await client.post("/api/v1/formulary/import", content=bad, headers={**admin, **headers})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "line 2: atc"
    r = await client.post("/api/v1/formulary/import", content=body, headers={**admin, **headers})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    r = await client.get("/api/v1/formulary", params={"inn": "ZZ-TEST"}, headers=doctor)
    assert r.status_code == 200
    assert [m["code"] for m in r.json()] == [code]
    r = await client.get("/api/v1/formulary", params={"atc": "C09AA05"}, headers=doctor)
    assert code in [m["code"] for m in r.json()]


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_each_pack_has_types_a_reimbursement_list_and_a_valid_demo_formulary(country):
    from salomat.country import pack

    rules = service.prescription_rules(country)
    assert rules.types["regular"].validity_days == 30
    assert rules.types["long_term"].validity_days == 90
    assert not rules.types["regular"].reimbursed
    amlodipine = rules.reimbursement["amlodipine"]
    assert service.diagnosis_qualifies("I10", amlodipine.diagnoses)
    assert service.diagnosis_qualifies("I11.9", amlodipine.diagnoses)
    assert not service.diagnosis_qualifies("I20.9", amlodipine.diagnoses)
    assert service.diagnosis_qualifies("E11.9", rules.reimbursement["metformin"].diagnoses)
    assert not service.diagnosis_qualifies("E10.9", rules.reimbursement["metformin"].diagnoses)
    text = (pack.PACKS_DIR / country / rules.formulary_file).read_text(encoding="utf-8")
    rows, errors = service.check_formulary_csv(text)
    assert errors == []
    inns = {r["inn"] for r in rows}
    # every reimbursable INN can be prescribed from the demo formulary
    assert set(rules.reimbursement) <= inns
    for r in rows:
        if r["inn"] in rules.reimbursement and rules.reimbursement[r["inn"]].atc:
            assert r["atc"] == rules.reimbursement[r["inn"]].atc


def test_the_cli_import_reports_bad_lines_and_stores_a_good_file(tmp_path):
    import asyncio

    from typer.testing import CliRunner

    from salomat.cli import app
    from salomat.core.config import get_settings
    from salomat.core.db import dispose_engines, session_factory

    code = unique("CL")
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text(row(code), row(unique("CL"), atc="C08CA1")), encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(csv_text(row(code)), encoding="utf-8")

    def invoke(*args: str):
        get_settings.cache_clear()
        return CliRunner().invoke(app, ["formulary", "import", *args])

    def stored() -> bool:
        async def main() -> bool:
            try:
                async with session_factory()() as s:
                    return await service.medicine_by_code(s, code) is not None
            finally:
                await dispose_engines()

        return asyncio.run(main())

    r = invoke(str(bad))
    assert r.exit_code == 1
    assert f"{bad}:3: atc:" in r.output
    assert "nothing was stored" in r.output
    r = invoke(str(good), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "Would add 1" in r.output
    assert not stored()
    r = invoke(str(good))
    assert r.exit_code == 0, r.output
    assert "Added 1" in r.output
    assert stored()
