"""The disease-management programmes' medicines (issue 21, item 3): each programme of both
packs names its medicine classes as ATC prefixes with a source; the programme card loads
the patient's prescriptions of those classes from the prescription domain with htmx (the
two are sibling domains: no import), so the doctor sees the antihypertensive under the
hypertension programme and a link to prescribe."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest

from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.screening.service.rules import _dmp, screening_rules
from tests.domains.registry.test_web import web_login
from tests.factories import unique
from tests.ui.conftest import in_chromium, open_browser

pytestmark = pytest.mark.anyio

TODAY = date.today()
HEADER = "code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price"
HX = {"HX-Request": "true"}


# ---- the packs ------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_each_programme_names_its_medicine_classes_with_a_source(country):
    for edition in screening_rules(country).editions:
        dmps = edition.dmps
        # WHO HEARTS first-line classes and beta-blockers
        assert set(dmps["hypertension"].medicines) == {"C03", "C07", "C08", "C09"}
        assert dmps["t2dm"].medicines == ("A10",)
        assert {"C03", "C07", "C09", "C01AA"} <= set(dmps["chf"].medicines)
        for d in dmps.values():
            assert d.medicines, d.code
            assert d.medicines_source, d.code
            # a class the national list was not checked against says so
            assert "UNVERIFIED" in d.medicines_source, d.code


def test_a_pack_class_that_is_not_atc_is_refused_when_read():
    spec = {"code": "hypertension", "diagnoses": ["I10-I15"], "source": "x"}
    assert _dmp(spec).medicines == ()  # a programme without medicines lists none
    ok = _dmp({**spec, "medicines": {"atc": ["C", "C09AA02"], "source": "s"}})
    assert ok.medicines == ("C", "C09AA02")
    assert ok.medicines_source == "s"
    for wrong in (["C0"], ["I10"], ["c09"], []):
        with pytest.raises(pack.PackError):
            _dmp({**spec, "medicines": {"atc": wrong, "source": "s"}})


# ---- the card --------------------------------------------------------------------------------


async def _enrolled(scr, programme: str = "hypertension", code: str = "I10"):  # type: ignore[no-untyped-def]
    from salomat.domains.screening import service
    from salomat.domains.screening.schemas import EnrolmentIn

    p = await scr.make_patient(date(TODAY.year - 60, 1, 1))
    await service.enrol(
        scr.db, scr.principal(), p.id,
        EnrolmentIn(programme=programme, diagnosis_code=code,
                    enrolled_on=TODAY - timedelta(days=30)),
    )  # fmt: skip
    await scr.db.commit()
    return p


async def _prescribe(scr, person_id: int, inn: str, atc: str, diagnosis: str) -> object:  # type: ignore[no-untyped-def]
    from salomat.domains.prescription import service
    from salomat.domains.prescription.schemas import PrescriptionIn

    code = unique(inn[:3].upper())
    report = await service.import_formulary(
        scr.db, f"{HEADER}\n{code},{inn},{atc},{inn.title()} test,tablet,5 mg,tablet,30,1500000\n"
    )
    assert not report.errors
    doctor: Principal = scr.principal()
    rx = await service.create_prescription(
        scr.db, doctor, person_id,
        PrescriptionIn(medicine=code, diagnosis=diagnosis, kind="regular", dose_units=1,
                       times_per_day=1, days=30),
    )  # fmt: skip
    await scr.db.commit()
    return rx


def _hx_url(text: str, programme: str) -> str:
    block = re.search(
        rf'data-testid="dmp-medicines" data-programme="{programme}">(.*?)</div>\s*</div>',
        text,
        re.S,
    )
    assert block, programme
    return html.unescape(re.search(r'hx-get="([^"]+)"', block[1])[1])


async def test_the_card_loads_the_programmes_prescriptions(client, scr):
    p = await _enrolled(scr)
    aml = await _prescribe(scr, p.id, "amlodipine", "C08CA01", "I10")
    met = await _prescribe(scr, p.id, "metformin", "A10BA02", "E11.9")
    await web_login(client, scr.doctor_account)
    card = await client.get(f"/patients/{p.id}/screening")
    assert card.status_code == 200, card.text
    url = _hx_url(card.text, "hypertension")
    # the pack's classes, in its order
    assert url == f"/patients/{p.id}/prescriptions/by-class?atc=C03&atc=C08&atc=C09&atc=C07"
    # the link works without htmx too (the same URL as a page)
    assert f'<a href="{url.replace("&", "&amp;")}">' in card.text
    part = await client.get(url, headers=HX)
    assert part.status_code == 200, part.text
    listed = re.findall(r'data-testid="rx-class-item" data-id="(\d+)"', part.text)
    assert listed == [str(aml.id)]  # the antihypertensive, not the metformin
    assert str(met.id) not in listed
    assert f'href="/patients/{p.id}/prescriptions#prescribe"' in part.text


async def test_only_open_enrolments_with_medicines_get_a_list(client, scr):
    never = await scr.make_patient(date(TODAY.year - 60, 1, 1))
    both = await _enrolled(scr)
    from salomat.domains.screening import service
    from salomat.domains.screening.schemas import EnrolmentIn

    await service.enrol(
        scr.db, scr.principal(), both.id,
        EnrolmentIn(programme="t2dm", diagnosis_code="E11.9",
                    enrolled_on=TODAY - timedelta(days=10)),
    )  # fmt: skip
    await scr.db.commit()
    await web_login(client, scr.doctor_account)
    r = await client.get(f"/patients/{never.id}/screening")
    assert 'data-testid="dmp-medicines"' not in r.text
    r = await client.get(f"/patients/{both.id}/screening")
    shown = re.findall(r'data-testid="dmp-medicines" data-programme="(\w+)"', r.text)
    assert sorted(shown) == ["hypertension", "t2dm"]
    assert re.findall(r"atc=(\w+)", _hx_url(r.text, "t2dm")) == ["A10"]


async def test_another_facilitys_doctor_sees_neither_card_nor_list(client, scr):
    p = await _enrolled(scr)
    await _prescribe(scr, p.id, "amlodipine", "C08CA01", "I10")
    await web_login(client, scr.other_doctor_account)
    assert (await client.get(f"/patients/{p.id}/screening")).status_code == 404
    url = f"/patients/{p.id}/prescriptions/by-class?atc=C08"
    assert (await client.get(url, headers=HX)).status_code == 404


@in_chromium
async def test_in_chromium_the_card_shows_the_antihypertensive_and_a_link_to_prescribe(
    live_server, scr
):
    p = await _enrolled(scr)
    aml = await _prescribe(scr, p.id, "amlodipine", "C08CA01", "I10")
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(scr.doctor_account.username)
        await page.goto(browser.url(f"/patients/{p.id}/screening"))
        section = page.locator('[data-testid="dmp-medicines"][data-programme="hypertension"]')
        item = section.get_by_test_id("rx-class-item")
        await item.wait_for()  # loaded by htmx after the card
        assert await item.count() == 1
        assert await item.get_attribute("data-id") == str(aml.id)
        assert await item.get_attribute("data-status") == "active"
        assert "Amlodipine test" in await item.inner_text()
        assert await section.get_by_test_id("rx-class-status").inner_text() == "active"
        await browser.screenshot("screening-card-medicines")
        link = section.get_by_test_id("rx-prescribe")
        assert await link.is_visible()
        async with page.expect_navigation():
            await link.click()
        assert page.url == browser.url(f"/patients/{p.id}/prescriptions#prescribe")
        assert await page.get_by_test_id("prescription-form").is_visible()
