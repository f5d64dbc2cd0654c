"""Pages answer in every language of the packs: the pack's own language, ru and en."""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from salomat.core.config import get_settings
from salomat.core.errors import Invalid
from salomat.country import pack

pytestmark = pytest.mark.anyio

PACK_LANGUAGES = {"UZ": ["uz", "ru", "en"], "KZ": ["kk", "ru", "en"]}


@pytest.fixture(params=["UZ", "KZ"])
def country(request, monkeypatch):
    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


def test_every_pack_offers_its_own_language_russian_and_english():
    for code, langs in PACK_LANGUAGES.items():
        rules = pack.load(code)
        assert rules["languages"] == langs
        assert rules["default_language"] == langs[0]


async def test_the_language_switch_offers_the_pack_languages(client, country):
    r = await client.get("/login")
    assert r.status_code == 200
    switch = r.text.split('data-testid="language"', 1)[1].split("</select>", 1)[0]
    offered = re.findall(r'<option value="(\w+)"', switch)
    assert offered == PACK_LANGUAGES[country]


async def test_a_browser_language_outside_the_pack_falls_back(client, country):
    other = "kk" if country == "UZ" else "uz"
    r = await client.get("/login", headers={"Accept-Language": other})
    assert f'<html lang="{PACK_LANGUAGES[country][0]}"' in r.text
    r = await client.get("/login", headers={"Accept-Language": f"{other}, en;q=0.5"})
    assert '<html lang="en"' in r.text
    # picked on purpose with the language link: honoured, its catalog exists
    client.cookies.set("salomat_lang", other)
    r = await client.get("/login", headers={"Accept-Language": "ru"})
    assert f'<html lang="{other}"' in r.text


async def test_a_user_language_is_one_of_the_pack(db, make_facility, country):
    from salomat.domains.accounts import service
    from salomat.domains.accounts.schemas import UserIn
    from tests.factories import PASSWORD, unique

    other = "kk" if country == "UZ" else "uz"
    with pytest.raises(Invalid) as refused:
        await service.create_user(
            db, UserIn(username=unique("a-"), password=PASSWORD, role="admin", language=other)
        )
    assert [e.field for e in refused.value.errors] == ["language"]
    await db.rollback()
    for lang in PACK_LANGUAGES[country]:
        user = await service.create_user(
            db, UserIn(username=unique("a-"), password=PASSWORD, role="admin", language=lang)
        )
        assert user.language == lang
    await db.commit()


async def test_the_immunization_coverage_page_answers_in_every_language(
    client, make_user, login, country
):
    """It answered 500 in uz, ru and kk: a translation held a bare "%"."""
    auth = await login(await make_user("analyst"))
    for lang in PACK_LANGUAGES[country]:
        client.cookies.set("salomat_lang", lang)
        r = await client.get("/dashboard/immunization", headers=auth)
        assert r.status_code == 200, (lang, r.text[:500])
        assert f'<html lang="{lang}"' in r.text


# ---- the sweep: every page, every language of both packs, each role that may open it ------
#
# The pages come from the app's route table (a new page is covered without a change
# here); path parameters are filled with ids of a seeded demo (the pack's demo, loaded
# as `salomat demo load` does, plus a prescription and a growth measurement). Each page
# is rendered by every demo account that may open it, the languages of the pack handed
# round so that each page is seen in each language; a page about a person is rendered
# for each person of interest in each language. It fails on a 5xx, on an English message
# left untranslated in a non-English page, and on a raw code where a label belongs.

SKIP_PATHS = {"/healthz", "/readyz", "/language"}
API_PREFIXES = ("/api/", "/fhir", "/auth/", "/docs", "/openapi")
#: snake_case values (risk levels, roles, statuses...) shown as they are stored
SNAKE = re.compile(r"(?<![\w.@/#:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@/-])")
#: rule ids of the packs (ANC.S.01, DT.17, IMMZ.D2.DT.05)
RULE_ID = re.compile(r"\b[A-Z]{2,6}(?:\.[A-Z][A-Z0-9]{0,3})*\.\d{1,3}\b")
VISIBLE_ATTRS = ("placeholder", "title", "aria-label", "alt")

#: Known gaps in pages of other areas: path -> (findings, whose and what). Empty is the
#: goal; a finding not listed fails the sweep. Remove an entry when its page is fixed.
KNOWN_GAPS: dict[str, tuple[tuple[str, ...], str]] = {}


class _Text(HTMLParser):
    """The text a reader sees as words: text nodes and a few attributes. Scripts and styles
    are left out, and so is what a page marks as not words on purpose: ``<code>``,
    ``<kbd>``, ``<samp>`` and anything with ``translate="no"`` (a username, a code an
    auditor reads beside its label, a message kept in its own language)."""

    _HIDDEN = ("script", "style", "template")
    _MACHINE = ("code", "kbd", "samp")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        marked = dict(attrs).get("translate") == "no"
        if tag in self._HIDDEN or tag in self._MACHINE or marked or self._skip:
            if tag not in VOID:
                self._skip.append(tag)
            return
        for name, value in attrs:
            if name in VISIBLE_ATTRS and value:
                self.chunks.append(value)

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.chunks.append(" ".join(data.split()))


VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.chunks


@functools.cache
def english_msgids(lang: str) -> frozenset[str]:
    """English messages whose translation in ``lang`` differs (shown as is: untranslated)."""
    from babel.messages.pofile import read_po

    from salomat.core.i18n import BABEL_LOCALES, LOCALE_DIR

    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=BABEL_LOCALES[lang])
    out = set()
    for m in catalog:
        if not m.id or isinstance(m.id, tuple) or not m.string or m.string == m.id:
            continue
        if "%(" in m.id or len(m.id) < 4 or not re.search(r"[a-z]{3}", m.id):
            continue
        out.add(m.id)
    return frozenset(out)


@functools.cache
def english_pack_labels(country: str, lang: str) -> frozenset[str]:
    """The pack's English labels (vaccines, series, sites, indicators) named otherwise in
    ``lang``: shown as they are, they are untranslated too."""
    from salomat.domains.immunization.service import pack_names

    child = pack.load(country, "child")
    named = [
        *(names for codes in pack_names(country).values() for names in codes.values()),
        # the child passport's visit schedule, its source and the milestones
        *(v["names"] for v in child["well_child_visits"]["visits"]),
        child["well_child_visits"]["source_names"],
        *(m["names"] for m in child.get("milestones", {}).get("items", [])),
    ]
    return frozenset(
        names["en"]
        for names in named
        if names.get(lang) and names[lang] != names["en"] and re.search(r"[a-z]{3}", names["en"])
    )


@functools.cache
def pack_label_pattern(country: str, lang: str) -> re.Pattern[str] | None:
    """The pack's English labels as whole words, to find one inside a longer text."""
    labels = sorted(english_pack_labels(country, lang), key=len, reverse=True)
    if not labels:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, labels)) + r")(?!\w)")


def findings(
    body: str,
    lang: str,
    csv: bool = False,
    data: frozenset[str] = frozenset(),
    country: str | None = None,
) -> list[str]:
    """What a reader of ``lang`` should not see in this page (or CSV header).

    ``data`` are values that are data, not words (the demo's usernames: "nurse").
    """
    chunks = [body.splitlines()[0]] if csv and body else ([] if csv else visible_text(body))
    if csv:
        chunks = [c.strip().strip('"') for c in chunks[0].split(",")] if chunks else []
    found = []
    english = english_msgids(lang) if lang != "en" else frozenset()
    if country and lang != "en":
        english |= english_pack_labels(country, lang)
    for chunk in chunks:
        if chunk in data:
            continue
        if chunk in english:
            found.append(f"untranslated: {chunk!r}")
        elif country and lang != "en" and (inner := pack_label_pattern(country, lang)):
            # a pack label inside a longer text ("Due now: Hepatitis B (birth dose), BCG")
            for m in inner.finditer(chunk):
                found.append(f"untranslated: {m.group()!r} in {chunk!r}")
        for m in SNAKE.finditer(chunk):
            found.append(f"raw code: {m.group()!r}")
        for m in RULE_ID.finditer(chunk):
            found.append(f"rule id: {m.group()!r}")
    return found


@dataclass
class Seeded:
    country: str
    url: str
    #: demo account username -> (role, password)
    accounts: dict[str, tuple[str, str]]
    #: path parameter -> ids worth rendering
    ids: dict[str, list[Any]]
    #: person id -> national id (a pharmacy looks a prescription up with it)
    nids: dict[int, str]


async def _seed(
    country: str, loaded: Any
) -> tuple[dict[str, tuple[str, str]], dict[str, list[Any]], dict[int, str]]:
    """The ids and accounts the sweep fills paths with, in the database of
    SALOMAT_DATABASE_URL, where the pack's demo is loaded (``loaded``: what the load
    answered)."""
    from sqlalchemy import select

    from salomat.cli import _person_id_by_national_id
    from salomat.core.db import dispose_engines, session_factory
    from salomat.domains.maternal.models import Referral

    data = pack.demo(country)
    try:
        async with session_factory()() as s:
            pid = functools.partial(_person_id_by_national_id, s)
            pregnancies = data["pregnancies"]
            women = [p["woman"] for p in pregnancies if "referral" in p][:1]
            women += [p["woman"] for p in pregnancies if "birth" in p][:1]
            women += [p["woman"] for p in pregnancies if p["woman"] not in women][:1]
            children = [c["child"] for c in data["immunizations"]][:2]
            citizen = next(u["person"] for u in data["users"] if u["role"] == "citizen")
            nids = {await pid(n): n for n in dict.fromkeys([*women, *children, citizen])}
            referrals = list((await s.scalars(select(Referral.id).order_by(Referral.id))).all())
            certificates = await _sick_leave_ids(s, await pid(citizen))
            sanatorium = await _sanatorium_ids(s, await pid(citizen))
            tumours = await _cancer_ids(s)
            insurance = await _insurance_ids(s)
            subscriptions = await _subscription_ids(s)
            notifications = await _notification_ids(s)
            statistics = await _statistics_ids(s)
            certified = await _certified_ids(s)
            enrolled = await _screening_ids(s)
            staffed = await _staffed_facility_codes(s)
    finally:
        await dispose_engines()
    accounts = {u.username: (u.role.value, pw) for u, pw in loaded.created}
    mine = next(p for p, n in nids.items() if n == citizen)
    return (
        accounts,
        {
            "person_id": [*nids, *certified, *enrolled],
            "referral_id": referrals[:2],
            "citizen": [mine],
            **certificates,
            **sanatorium,
            **tumours,
            **insurance,
            **subscriptions,
            **statistics,
            **notifications,
            "code": staffed,
        },
        nids,
    )


async def _staffed_facility_codes(session: Any) -> list[str]:
    """A demo facility with staff (its staff page lists roles, positions in the reader's
    language)."""
    from sqlalchemy import select

    from salomat.domains.registry.models import Facility, PractitionerRole

    codes = await session.scalars(
        select(Facility.code)
        .join(PractitionerRole, PractitionerRole.facility_id == Facility.id)
        .group_by(Facility.code)
        .order_by(Facility.code)
        .limit(1)
    )
    return list(codes.all())


async def _certified_ids(session: Any) -> list[int]:
    """Two demo deaths with their certificates: one the rules selected, one waiting for
    a coder (the certificate pages)."""
    from sqlalchemy import select

    from salomat.domains.registry.models import DeathCertificate

    rows = await session.execute(
        select(DeathCertificate.person_id, DeathCertificate.review).order_by(
            DeathCertificate.person_id
        )
    )
    found: dict[str, int] = {}
    for person_id, review in rows:
        found.setdefault("queued" if review == "needs_review" else "selected", person_id)
    return sorted(found.values())


async def _screening_ids(session: Any) -> list[int]:
    """Two demo patients of the disease-management programmes (the programme card with
    enrolments, readings and the control chart)."""
    from sqlalchemy import select

    from salomat.domains.screening.models import DmpEnrolment

    rows = await session.scalars(
        select(DmpEnrolment.person_id).distinct().order_by(DmpEnrolment.person_id).limit(2)
    )
    return list(rows.all())


async def _statistics_ids(session: Any) -> dict[str, list[Any]]:
    """An indicator with a trend and a demo region (the indicator pages)."""
    from salomat.domains.registry import service

    areas = await service.statistics_areas(session)
    regions = sorted(c for c, (level, _n, _p) in areas.items() if level == "region")
    return {"indicator": ["infant_mortality"], "region": regions[:1]}


async def _sick_leave_ids(session: Any, citizen_id: int) -> dict[str, list[Any]]:
    """The demo citizen's own certificate (her PDF, and the doctor's), and the numbers of
    the certificates shared with the demo employer (its PDF)."""
    from sqlalchemy import select

    from salomat.domains.sickleave.models import SickLeaveCertificate, SickLeaveShare

    mine = await session.scalars(
        select(SickLeaveCertificate.id)
        .where(SickLeaveCertificate.person_id == citizen_id)
        .order_by(SickLeaveCertificate.id)
    )
    shared = await session.scalars(
        select(SickLeaveCertificate.number)
        .join(SickLeaveShare, SickLeaveShare.certificate_id == SickLeaveCertificate.id)
        .where(SickLeaveShare.withdrawn_at.is_(None))
        .order_by(SickLeaveCertificate.id)
    )
    return {"certificate_id": list(mine.all())[:1], "number": list(shared.all())[:1]}


async def _sanatorium_ids(session: Any, citizen_id: int) -> dict[str, list[Any]]:
    """The demo citizen's referral in line (her portal, her doctor's page), her voucher
    (three years ago) and the guest under way at the demo sanatorium (the staff's stay
    page), the period she is offered, and a profile with a queue."""
    from sqlalchemy import select

    from salomat.domains.sanatorium.models import (
        SanatoriumOffer,
        SanatoriumReferral,
        SanatoriumStay,
    )

    referral = await session.scalar(
        select(SanatoriumReferral.id).where(
            SanatoriumReferral.person_id == citizen_id,
            SanatoriumReferral.status.in_(("queued", "offered")),
        )
    )
    period = await session.scalar(
        select(SanatoriumOffer.period_id).where(
            SanatoriumOffer.referral_id == referral, SanatoriumOffer.status == "open"
        )
    )
    voucher = await session.scalar(
        select(SanatoriumStay.id).where(SanatoriumStay.person_id == citizen_id)
    )
    guest = await session.scalar(
        select(SanatoriumStay.id).where(SanatoriumStay.status == "arrived").limit(1)
    )
    return {
        "sanatorium_referral_id": [referral],
        "stay_id": [voucher, guest],
        "period_id": [period],
        "profile": ["cardiology"],
    }


async def _cancer_ids(session: Any) -> dict[str, list[Any]]:
    """A demo tumour waiting for the registrar's confirmation (its record shows the
    confirmation form) and one registered with a follow-up."""
    from sqlalchemy import select

    from salomat.domains.cancer.models import CancerTumour

    waiting = await session.scalar(
        select(CancerTumour.id).where(CancerTumour.status == "to_confirm").limit(1)
    )
    registered = await session.scalar(
        select(CancerTumour.id).where(CancerTumour.status == "registered").limit(1)
    )
    return {"tumour_id": [t for t in (waiting, registered) if t is not None]}


async def _insurance_ids(session: Any) -> dict[str, list[Any]]:
    """The demo's first provider claim (its lines, one flagged) and first settlement."""
    from sqlalchemy import select

    from salomat.domains.insurance.models import ServiceClaim, Settlement

    claim = await session.scalar(select(ServiceClaim.id).order_by(ServiceClaim.id).limit(1))
    settlement = await session.scalar(select(Settlement.id).order_by(Settlement.id).limit(1))
    return {"claim_id": [claim], "settlement_id": [settlement]}


async def _notification_ids(session: Any) -> dict[str, list[Any]]:
    """The demo's first case notification (its page, read by the notifying polyclinic and
    the epidemiologist) and its region (the epidemic dashboard's region page)."""
    from sqlalchemy import select

    from salomat.domains.epidemic.models import CaseNotification
    from salomat.domains.registry.models import Territory

    first = await session.scalar(select(CaseNotification.id).order_by(CaseNotification.id))
    region = await session.scalar(
        select(Territory.code)
        .join(CaseNotification, CaseNotification.region_id == Territory.id)
        .order_by(CaseNotification.id)
        .limit(1)
    )
    # and the region of it (the dashboard's region page: its curve, Rt, fans)
    return {"notification_id": [first], "region": [region]}


async def _subscription_ids(session: Any) -> dict[str, list[Any]]:
    """A subscription of a demo clinician with a failed and a delivered attempt in its log
    (the operations page and its delivery log)."""
    from sqlalchemy import select

    from salomat.core.security import Principal
    from salomat.domains.accounts.models import User
    from salomat.domains.subscriptions import service
    from salomat.domains.subscriptions.schemas import SubscriptionIn

    user = (
        await session.scalars(
            select(User).where(User.role == "family_doctor", User.facility_id.is_not(None))
        )
    ).first()
    owner = Principal(
        user_id=user.id, username=user.username, role=user.role, session_id="sweep",
        facility_id=user.facility_id,
    )  # fmt: skip
    out = await service.create(
        session,
        owner,
        SubscriptionIn(
            status="requested",
            resource_type="Patient",
            criteria="Patient?birthdate=ge2026-01-01",
            reason="newborns",
            endpoint="http://127.0.0.1:9/hook",
        ),
    )
    for attempt, code in ((1, None), (2, 200)):
        await service.log_delivery(
            session,
            out.id,
            job_id=None,
            resource_type="Patient",
            resource_id="1",
            attempt=attempt,
            status_code=code,
            error=None if code else "ConnectError: All connection attempts failed",
            duration_ms=3,
        )
    await session.commit()
    service.forget_types()
    return {"subscription_id": [out.id]}


@pytest.fixture(scope="module", params=["UZ", "KZ"])
def seeded(request, tmp_path_factory) -> Iterator[Seeded]:
    import asyncio

    from salomat.core.db import dispose_engines
    from tests.conftest import demo_database

    country = request.param
    # the pack's demo as `salomat demo load` loads it: a copy of the run's loaded demo
    with demo_database("salomat_sweep", country) as (url, loaded):
        saved = {k: os.environ.get(k) for k in ("SALOMAT_COUNTRY", "SALOMAT_DATABASE_URL")}
        try:
            os.environ["SALOMAT_COUNTRY"], os.environ["SALOMAT_DATABASE_URL"] = country, url
            get_settings.cache_clear()
            accounts, ids, nids = asyncio.run(_seed(country, loaded))
            yield Seeded(country, url, accounts, ids, nids)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            get_settings.cache_clear()
            asyncio.run(dispose_engines())


def _pages(app: Any) -> list[tuple[str, str | None]]:
    """(path, permission) of every page of the app: GET routes outside the APIs."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from salomat.core.policy import Public, Require

    out = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        path = ctx.path
        if path in SKIP_PATHS or path.startswith(API_PREFIXES):
            continue
        stack, permission = [route.dependant], None
        while stack:
            dep = stack.pop()
            if isinstance(dep.call, Require):
                permission = dep.call.permission
            elif isinstance(dep.call, Public):
                permission = None
            stack.extend(dep.dependencies)
        out.append((path, permission))
    return out


async def _extra_records(client: httpx.AsyncClient, tokens: dict[str, Any], seeded: Seeded):
    """The citizen's prescription, looked up by the pharmacy, and a child's measurement."""
    doctor = tokens["doctor"]
    people = seeded.ids["person_id"]
    formulary = await client.get("/api/v1/formulary", headers=doctor)
    assert formulary.status_code == 200, formulary.text
    medicine = formulary.json()[0]["code"]
    # the citizen's own (her page and PDF), else the first woman the doctor may prescribe for
    for adult in (seeded.ids["citizen"][0], *people[:3]):
        rx = await client.post(
            f"/api/v1/persons/{adult}/prescriptions",
            json={
                "medicine": medicine,
                "kind": "regular",
                "dose_units": 1,
                "times_per_day": 1,
                "days": 10,
            },
            headers=doctor,
        )
        if rx.status_code == 201:
            break
    assert rx.status_code == 201, rx.text
    looked_up = await client.post(
        "/api/v1/dispensing/lookup",
        json={"code": rx.json()["code"], "national_id": seeded.nids[adult]},
        headers=tokens["pharmacist"],
    )
    assert looked_up.status_code == 200, looked_up.text
    child = seeded.ids["person_id"][3]
    growth = await client.post(
        f"/api/v1/persons/{child}/growth",
        json={"weight_kg": 11.2, "length_or_height_cm": 84.5},
        headers=doctor,
    )
    assert growth.status_code == 201, growth.text
    return {**seeded.ids, "prescription_id": [rx.json()["id"]]}


async def test_every_page_in_every_language_of_both_packs(seeded):
    from salomat.core.policy import allowed
    from salomat.main import create_app

    app = create_app()
    langs = PACK_LANGUAGES[seeded.country]
    transport = httpx.ASGITransport(app=app, client=("10.250.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        tokens = {}
        for username, (_role, password) in seeded.accounts.items():
            r = await client.post("/auth/token", data={"username": username, "password": password})
            assert r.status_code == 200, r.text
            tokens[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        ids = await _extra_records(client, tokens, seeded)
        problems: list[str] = []
        seen_gaps: set[tuple[str, str]] = set()
        reached: dict[str, set[str]] = {}
        usernames = frozenset(seeded.accounts)
        renders = 0

        async def render(path: str, actor: str | None, lang: str, fill: dict[str, int]) -> int:
            nonlocal renders
            url = path.format(**fill)
            headers = {"Accept-Language": lang, **(tokens[actor] if actor else {})}
            client.cookies.set("salomat_lang", lang)
            r = await client.get(url, headers=headers)
            renders += 1
            who = f"{url} as {actor or 'anonymous'} in {lang}"
            if r.status_code >= 500:
                problems.append(f"{who}: {r.status_code}")
                return r.status_code
            if r.status_code == 200:
                reached.setdefault(path, set()).add(lang)
            kind = r.headers.get("content-type", "")
            if r.status_code != 200 or not ("html" in kind or "csv" in kind):
                return r.status_code
            for finding in findings(
                r.text, lang, csv="csv" in kind, data=usernames, country=seeded.country
            ):
                if finding in KNOWN_GAPS.get(path, ((), ""))[0]:
                    seen_gaps.add((path, finding))
                else:
                    problems.append(f"{who}: {finding}")
            return r.status_code

        for path, permission in _pages(app):
            actors: list[str | None] = [
                u
                for u, (role, _) in seeded.accounts.items()
                if permission is None or allowed(role, permission)
            ]
            if permission is None:
                actors.append(None)
            params = re.findall(r"{(\w+)}", path)
            for name in params:
                assert name in ids, f"{path}: give the sweep ids for {{{name}}}"
            fills = (
                [{}]
                if not params
                else [
                    {n: ids[n][i % len(ids[n])] for n in params}
                    for i in range(max(len(ids[n]) for n in params))
                ]
            )
            # every account that may open the page, every language, every record of interest,
            # handed round; then each language the page was not yet shown in (200), by an
            # account and record it was shown for (a page only its owner opens)
            shown: list[tuple[str | None, dict[str, int]]] = []
            for i in range(max(len(actors), len(langs) * len(fills))):
                actor, lang = actors[i % len(actors)], langs[i % len(langs)]
                fill = fills[(i // len(langs)) % len(fills)]
                if await render(path, actor, lang, fill) == 200:
                    shown.append((actor, fill))
            for lang in langs:
                if shown and lang not in reached.get(path, set()):
                    actor, fill = shown[0]
                    await render(path, actor, lang, fill)
        never = [p for p, _ in _pages(app) if reached.get(p) != set(langs)]
    stale = sorted((path, f) for path, (fs, _) in KNOWN_GAPS.items() for f in fs)
    stale = [g for g in stale if g not in seen_gaps and g[0] in {p for p, _ in _pages(app)}]
    if stale:  # fixed since: the list should shrink (not a failure: the other pack may show it)
        warnings.warn(f"{seeded.country}: known gaps no longer seen: {stale}", stacklevel=1)
    report = "\n".join(sorted(set(problems)))
    assert not problems, f"{len(set(problems))} problems in {renders} pages:\n{report}"
    assert not never, f"pages not rendered (200) in every language {langs}: {never}"


def test_the_sweep_sees_what_a_reader_should_not():
    page = (
        "<html><body><h1>Карта прививок</h1><p>Left upper arm</p><td>high_risk</td>"
        "<span>ANC.DT.17</span><span>Not found</span><span title='Password'>x</span>"
        "<span>nurse</span><script>var snake_case_name = 1;</script>"
        "<p>Экстренный доступ <code>break_glass</code></p><p translate='no'>Not found</p>"
        "</body></html>"
    )
    found = findings(page, "ru", data=frozenset({"nurse"}), country="UZ")
    assert found == [
        "untranslated: 'Left upper arm'",
        "raw code: 'high_risk'",
        "rule id: 'ANC.DT.17'",
        "untranslated: 'Not found'",
        "untranslated: 'Password'",
    ]
    assert findings(page, "en", data=frozenset({"nurse"}), country="UZ") == [
        "raw code: 'high_risk'",
        "rule id: 'ANC.DT.17'",
    ]
    # the pack's labels: a child's visit as a cell, a vaccine series inside a sentence
    page = "<td>6 weeks</td><p>Сейчас: Hepatitis B (birth dose), БЦЖ</p><td>6 недель</td>"
    assert findings(page, "ru", country="UZ") == [
        "untranslated: '6 weeks'",
        "untranslated: 'Hepatitis B (birth dose)' in 'Сейчас: Hepatitis B (birth dose), БЦЖ'",
    ]
    assert findings(page, "kk", country="KZ")[0] == "untranslated: '6 weeks'"
    assert findings(page, "en", country="UZ") == []
    assert findings("cohort,dtp3_covered\n2018,4\n", "ru", csv=True) == [
        "untranslated: 'cohort'",
        "raw code: 'dtp3_covered'",
    ]
