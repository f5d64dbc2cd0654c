"""Documents as PDF (ui/pdf.py) and the child health passport as one.

The PDF's text is read back with pypdf, so the assertions are about what a reader
of the file sees: the child's name, the translated headings and the measurements in
uz, ru and kk. Rendering costs about half a second; the tests render few documents.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.domains.immunization import service as immunization
from salomat.ui import pdf
from tests.domains.child.test_passport import born
from tests.domains.maternal.test_pregnancy import clinic
from tests.domains.registry.test_web import web_login

__all__ = ["clinic"]

TODAY = date.today()


def pdf_text(body: bytes) -> str:
    """The document's text with runs of white space made one space."""
    reader = PdfReader(io.BytesIO(body))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))


def tr(lang: str, msgid: str) -> str:
    return i18n.translations(lang).gettext(msgid)


def assert_pdf_response(r) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "no-store"
    assert re.fullmatch(
        r'inline; filename="[A-Za-z0-9._-]+\.pdf"', r.headers["content-disposition"]
    )
    assert r.content.startswith(b"%PDF-")


# ---- the library ---------------------------------------------------------------------------


def test_the_fetcher_loads_only_the_packages_static_files():
    assert pdf.static_path(pdf.BASE_URL + "pdf.css") == pdf.STATIC_DIR / "pdf.css"
    for url in (
        "file:///etc/passwd",
        pdf.BASE_URL + "../templating.py",
        pdf.BASE_URL + "%2e%2e/templating.py",
        pdf.BASE_URL + "missing.css",
        "file://evil.example/" + str(pdf.STATIC_DIR / "pdf.css"),
        "http://127.0.0.1/pdf.css",
    ):
        assert pdf.static_path(url) is None, url


def test_a_document_loads_its_css_and_nothing_outside(caplog):
    html = (
        '<html><head><link rel="stylesheet" href="pdf.css">'
        '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head>'
        '<body><h1>Oʻgʻil · Қазақ ә ғ қ ң ө ұ ү һ і · Ёж</h1><img src="file:///etc/hostname">'
        "</body></html>"
    )
    text = pdf_text(pdf.html_to_pdf(html))
    # every letter is drawn (DejaVu has ʻ and the Kazakh letters), so it reads back
    assert "Oʻgʻil · Қазақ ә ғ қ ң ө ұ ү һ і · Ёж" in text
    refused = " ".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1:9" in refused
    assert "/etc/hostname" in refused


def test_file_names_are_ascii():
    assert pdf.ascii_filename("Oʻgʻiloy Қасымова 12") == "Ogiloy-12"
    assert pdf.ascii_filename("///") == "document"
    r = pdf.pdf_response(b"%PDF-1.7", 'a"b\r\nc')
    assert r.headers["content-disposition"] == 'inline; filename="a-b-c.pdf"'


# ---- the passport ----------------------------------------------------------------------------


@pytest.fixture
async def baby(client, clinic, make_user, login):  # type: ignore[no-untyped-def]
    """A girl born in the system 20 days ago, weighed today, with her hepatitis B dose."""
    birth = await born(client, clinic, days_ago=20)
    baby = birth["babies"][0]["person_id"]
    nurse_user = await make_user("nurse", facility_code=clinic.facility.code)
    nurse = await login(nurse_user)
    r = await client.post(
        f"/api/v1/persons/{baby}/growth",
        json={"measured_on": TODAY.isoformat(), "weight_kg": 3.9, "length_or_height_cm": 53.0},
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/persons/{baby}/immunizations",
        json={
            "antigen": "hepb",
            "dose_number": 1,
            "given_on": (TODAY - timedelta(days=20)).isoformat(),
            "vaccine": "hepb_ped",
            "lot": "HB-77",
            "site": "left_thigh",
        },
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    person = (await client.get(f"/api/v1/persons/{baby}", headers=nurse)).json()
    return {"id": baby, "person": person, "nurse": nurse_user}


@pytest.fixture
def in_country(monkeypatch):  # type: ignore[no-untyped-def]
    """Serve the next requests as the given country's pack (kk is Kazakhstan's language)."""

    def switch(code: str) -> None:
        monkeypatch.setenv("SALOMAT_COUNTRY", code)
        get_settings.cache_clear()

    yield switch
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.anyio
@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_passport_pdf_is_in_the_pages_language(client, baby, lang, in_country):
    if lang == "kk":
        in_country("KZ")
    await web_login(client, baby["nurse"])
    client.cookies.set("salomat_lang", lang)
    page = await client.get(f"/children/{baby['id']}")
    assert f'href="/children/{baby["id"]}/passport.pdf"' in page.text
    r = await client.get(f"/children/{baby['id']}/passport.pdf")
    assert_pdf_response(r)
    text = pdf_text(r.content)
    person = baby["person"]
    assert f"{person['family_name']} {person['given_name']}" in text
    for msgid in (
        "Mother and child health passport",
        "Growth",
        "Vaccinations",
        "Well-child visits",
        "spontaneous vaginal",  # the mode of birth as a label, not its code
    ):
        assert tr(lang, msgid) != msgid, (lang, msgid)  # the catalog has it
        assert tr(lang, msgid) in text, (lang, msgid)
    assert "3.9" in text  # the weight of today's measurement
    assert (TODAY - timedelta(days=20)).strftime("%d.%m.%Y") in text  # the dose's day
    assert "Mother and child health passport" not in text
    # the pack's names in the page's language: the visit schedule and the vaccine series
    visits = {"uz": "6 hafta", "ru": "6 недель", "kk": "6 апта"}[lang]
    assert visits in text, (lang, visits)
    assert "6 weeks" not in text
    assert "Source of the schedule" not in text
    i18n_token = i18n.set_language(lang)
    try:
        hepb = immunization.Labels().series("hepb")
    finally:
        i18n.reset_language(i18n_token)
    assert hepb != immunization.Labels().series("hepb")  # named in lang, not English
    assert hepb in " ".join(text.split()), (lang, hepb)


@pytest.mark.anyio
async def test_the_passport_pdf_is_read_like_the_page(client, baby, clinic, make_user):
    stranger = await make_user("nurse")  # another polyclinic
    await web_login(client, stranger)
    r = await client.get(f"/children/{baby['id']}/passport.pdf")
    assert r.status_code == 404
    assert not r.content.startswith(b"%PDF")
    await web_login(client, await make_user("registrar"))
    assert (await client.get(f"/children/{baby['id']}/passport.pdf")).status_code == 403

    # the mother (a citizen) reads her child's passport; the read is audited like the page's
    mother = await make_user("citizen", person_id=clinic.woman.id)
    await web_login(client, mother)
    assert await _reads(mother.id, baby["id"]) == 0
    assert_pdf_response(await client.get(f"/children/{baby['id']}/passport.pdf"))
    assert await _reads(mother.id, baby["id"]) > 0


async def _reads(user_id: int, person_id: int) -> int:
    from sqlalchemy import func, select

    from salomat.core.audit import AuditEvent
    from salomat.core.db import session_factory

    q = select(func.count()).where(
        AuditEvent.user_id == user_id,
        AuditEvent.patient_id == person_id,
        AuditEvent.action == "read",
    )
    async with session_factory()() as s:
        return int(await s.scalar(q) or 0)


@pytest.mark.anyio
async def test_no_pdf_library_answers_503_with_a_message(client, baby, monkeypatch):
    def missing() -> None:
        raise OSError("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr(pdf, "_weasyprint", missing)
    await web_login(client, baby["nurse"])
    client.cookies.set("salomat_lang", "ru")
    r = await client.get(f"/children/{baby['id']}/passport.pdf")
    assert r.status_code == 503
    assert "text/html" in r.headers["content-type"]
    assert tr("ru", "Service unavailable") in r.text
    detail = tr(
        "ru",
        "PDF documents cannot be made on this server now (the PDF library or its system "
        "libraries are missing). Use the print page instead.",
    )
    assert detail.startswith("Сейчас")
    assert detail in r.text
    assert "libpango" not in r.text
