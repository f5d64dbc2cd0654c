"""A prescription as a PDF: its code and QR, the patient, the medicine, in the page's language.

The text is read back with pypdf; the QR image is taken out of the file and its modules
compared with the QR code of the prescription's code (the code only, no health data).
"""

from __future__ import annotations

import pytest
import segno
from pypdf import PdfReader

from tests.domains.prescription.test_prescribing import clinic, post, rx
from tests.domains.registry.test_web import web_login
from tests.ui.test_pdf import assert_pdf_response, in_country, pdf_text, tr

__all__ = ["clinic", "in_country"]

pytestmark = pytest.mark.anyio


@pytest.fixture
async def issued(client, clinic, make_user):  # type: ignore[no-untyped-def]
    """A reimbursed amlodipine for the clinic's patient, and a second doctor's account there."""
    r = await post(client, clinic, rx(clinic.amlodipine, instructions="after breakfast"))
    assert r.status_code == 201, r.text
    doctor = await make_user("family_doctor", facility_code=clinic.facility.code)
    return r.json(), doctor


def qr_modules(body: bytes) -> list[list[bool]]:
    """The dark modules of the one QR image in the PDF (8 pixels a module, a 4-module border)."""
    import io

    (image,) = PdfReader(io.BytesIO(body)).pages[0].images
    img = image.image.convert("L")
    size = img.width // 8 - 8
    return [
        [img.getpixel(((c + 4) * 8 + 4, (r + 4) * 8 + 4)) < 128 for c in range(size)]
        for r in range(size)
    ]


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_prescription_pdf_in_the_pages_language(client, clinic, issued, lang, in_country):
    p, doctor = issued
    if lang == "kk":
        in_country("KZ")
    await web_login(client, doctor)
    client.cookies.set("salomat_lang", lang)
    page = await client.get(f"/patients/{clinic.patient.id}/prescriptions")
    href = f"/patients/{clinic.patient.id}/prescriptions/{p['id']}.pdf"
    assert f'href="{href}"' in page.text
    r = await client.get(href)
    assert_pdf_response(r)
    assert p["code"] in r.headers["content-disposition"]
    text = pdf_text(r.content)
    assert p["code"] in text
    assert f"{clinic.patient.family_name} {clinic.patient.given_name}" in text
    assert "after breakfast" in text
    assert "amlodipine" in text
    assert clinic.facility.name in text
    for msgid in ("Prescription", "Medicine", "Valid until", "Prescribed by"):
        assert tr(lang, msgid) != msgid, (lang, msgid)
        assert tr(lang, msgid) in text, (lang, msgid)
    assert "I10" not in text  # no diagnosis on the patient's paper
    if lang == "uz":
        want = segno.make(p["code"], error="m").matrix
        assert qr_modules(r.content) == [[bool(v) for v in row] for row in want]


async def test_the_citizen_prints_her_own_prescription_and_nobody_elses(
    client, clinic, issued, make_person, make_user
):
    p, _ = issued
    her = await make_user("citizen", person_id=clinic.patient.id)
    await web_login(client, her)
    page = await client.get("/my/prescriptions")
    assert f'href="/my/prescriptions/{p["id"]}.pdf"' in page.text
    r = await client.get(f"/my/prescriptions/{p['id']}.pdf")
    assert_pdf_response(r)
    assert p["code"] in pdf_text(r.content)

    neighbour = await make_person(facility_code=clinic.facility.code)
    await web_login(client, await make_user("citizen", person_id=neighbour.id))
    for path in (
        f"/my/prescriptions/{p['id']}.pdf",
        f"/patients/{clinic.patient.id}/prescriptions/{p['id']}.pdf",
    ):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert not r.content.startswith(b"%PDF")
    await web_login(client, await make_user("pharmacist"))
    r = await client.get(f"/patients/{clinic.patient.id}/prescriptions/{p['id']}.pdf")
    assert r.status_code == 403


async def test_a_prescription_under_another_patient_is_not_found(
    client, clinic, issued, make_person
):
    p, doctor = issued
    other = await make_person(facility_code=clinic.facility.code)
    await web_login(client, doctor)
    r = await client.get(f"/patients/{other.id}/prescriptions/{p['id']}.pdf")
    assert r.status_code == 404
    assert (await client.get("/my/prescriptions/1.pdf")).status_code == 403  # staff: no portal


@pytest.mark.parametrize(
    ("lang", "name"),
    [("ru", "Общая врачебная практика"), ("uz", "Umumiy amaliyot"), ("en", "General practice")],
)
async def test_the_prescriber_s_specialty_is_named_in_the_pages_language(
    client, db, clinic, issued, make_practitioner, lang, name
):
    """The pack names each specialty (UZ pack.yaml); the paper shows the name, not the code."""
    from sqlalchemy import update

    from salomat.domains.prescription.models import Prescription

    p, doctor = issued
    who = await make_practitioner("general_practice", family_name="Saidova")
    await db.execute(
        update(Prescription).where(Prescription.id == p["id"]).values(practitioner_id=who.id)
    )
    await db.commit()
    await web_login(client, doctor)
    client.cookies.set("salomat_lang", lang)
    r = await client.get(f"/patients/{clinic.patient.id}/prescriptions/{p['id']}.pdf")
    assert_pdf_response(r)
    text = " ".join(pdf_text(r.content).split())
    assert "Saidova" in text
    assert name in text
    assert "general_practice" not in text
    assert "general practice" not in text
