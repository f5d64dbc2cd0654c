"""The public pages of the electronic sanatorium, no login: the free places (aggregates
only), the queue by pseudonym (anyone can check it is kept in order), and the check of
a voucher's QR code (valid or not, where and when). Nothing here can name a person: the
services' public views have no field that could hold a name, an id or a diagnosis.
"""

from __future__ import annotations

import base64
import io
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.pagination import PageParams
from salomat.core.policy import PUBLIC
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.schemas import FreePlaceOut, PositionOut, VoucherCheckOut
from salomat.domains.sanatorium.web.common import base_ctx, page_language, profile_name
from salomat.ui.templating import language_of, render

pages = router(include_in_schema=False)

#: the public page a voucher's QR code opens
VERIFY_PATH = "/verify/sanatorium-voucher"
FREE_PLACES_PATH = "/sanatorium/free-places"
QUEUE_PATH = "/sanatorium/queue/{profile}"
#: entries a page of the public queue shows
QUEUE_PAGE = 50
#: longer than any referral number or voucher code: answered "not valid"
MAX_NUMBER, MAX_CODE = 32, 16
_REGION = re.compile(r"^[A-Za-z0-9._-]{0,32}$")
_PSEUDONYM = re.compile(r"^[0-9A-F]{10}$")
#: regions named on the filters (a country has a few dozen at most)
MAX_REGIONS = 100

Region = Annotated[str, Query(max_length=32)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def voucher_check_url(request: Request, number: str, code: str) -> str:
    """The absolute address of the public check of one voucher: the referral number and
    the voucher code, nothing about the person or the illness."""
    base = str(request.base_url).rstrip("/")
    return f"{base}{VERIFY_PATH}?{urlencode({'number': number, 'code': code})}"


def qr_png_data_uri(text: str) -> str:
    """``text`` as a QR code in a PNG ``data:`` URI (8 pixels a module, a 4-module border):
    a bitmap keeps the printed modules sharp and lets a test read them back."""
    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=8, border=4)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def queue_link(pos: PositionOut | None) -> str | None:
    """The page of the public queue that shows this entry, marked."""
    if pos is None:
        return None
    query: dict[str, Any] = {}
    if pos.region:
        query["region"] = pos.region
    offset = (pos.position - 1) // QUEUE_PAGE * QUEUE_PAGE
    if offset:
        query["offset"] = offset
    query["mark"] = pos.pseudonym
    path = QUEUE_PATH.format(profile=pos.profile)
    return f"{path}?{urlencode(query)}#q-{pos.pseudonym}"


def profile_options() -> dict[str, str]:
    """The pack's profiles by code, named in the current language (the page's, when a
    template calls it)."""
    return {code: profile_name(code) for code in service.sanatorium_rules().profiles}


def public_ctx() -> dict[str, Any]:
    """What the citizen's and the public templates read: the shared labels and names,
    the public pages' addresses, and whether the pack keeps a line per region."""
    return {
        **base_ctx(),
        "verify_path": VERIFY_PATH,
        "free_places_path": FREE_PLACES_PATH,
        "by_region": service.sanatorium_rules().queue_by_region,
        "profile_options": profile_options,
    }


async def _region_names(session: DbSession, lang: str, wanted: set[str]) -> dict[str, str]:
    """Region code -> name in ``lang``: the country's regions, and any code asked for
    that the list did not hold (by its code)."""
    page = await registry.list_territory(session, PageParams(MAX_REGIONS, 0), level="region")
    out = {t.code: t.names.get(lang) or t.name for t in page.items}
    for code in sorted(wanted - set(out) - {""}):
        t = await registry.territory_by_code(session, code)
        if t is not None and t.level == "region":
            out[code] = t.names.get(lang) or t.name
    return out


def _check_region(region: str) -> str:
    if not _REGION.match(region):
        raise Invalid.fields([FieldError("region", N_("is not a region code"))])
    return region if service.sanatorium_rules().queue_by_region else ""


@pages.get(FREE_PLACES_PATH, response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
async def free_places_page(
    request: Request,
    session: DbSession,
    profile: Annotated[str, Query(max_length=32)] = "",
    region: Region = "",
) -> Response:
    """Arrival periods with free places by sanatorium, profile and region: numbers only."""
    rules = service.sanatorium_rules()
    profile = profile.strip()
    if profile and profile not in rules.profiles:
        profile = ""
    region = _check_region(region.strip())
    with page_language(request) as lang:  # the sanatoriums' names in the page's language
        rows: list[FreePlaceOut] = await service.free_places(
            session, profile=profile or None, region=region or None
        )
    regions = (
        await _region_names(session, lang, {r.region for r in rows} | {region})
        if rules.queue_by_region
        else {}
    )
    ctx = {
        **public_ctx(),
        "rows": rows,
        "free_total": sum(r.free for r in rows),
        "profile": profile,
        "region": region,
        "regions": regions,
    }
    return render(request, "sanatorium/public_free_places.html", ctx)


@pages.get(QUEUE_PATH, response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
async def queue_page(
    request: Request,
    session: DbSession,
    profile: str,
    region: Region = "",
    offset: Offset = 0,
    mark: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """One queue in order by pseudonym, tier and application day; a page at a time."""
    rules = service.sanatorium_rules()
    if profile not in rules.profiles:
        raise NotFound(N_("No such queue."))
    region = _check_region(region.strip())
    lang = language_of(request)
    entries, total = [], 0
    if region or not rules.queue_by_region:
        entries, total = await service.public_queue(
            session, profile, region, offset=offset, limit=QUEUE_PAGE
        )
    regions = await _region_names(session, lang, {region}) if rules.queue_by_region else {}
    tiers: dict[int, list[str]] = {}
    for code, cat in rules.categories.items():
        if not cat.direct:
            tiers.setdefault(cat.tier, []).append(code)
    base = {"region": region} if region else {}
    ctx = {
        **public_ctx(),
        "profile": profile,
        "region": region,
        "regions": regions,
        "entries": entries,
        "total": total,
        "offset": offset,
        "page_size": QUEUE_PAGE,
        "mark": mark if _PSEUDONYM.match(mark) else "",
        "tiers": dict(sorted(tiers.items())),
        "path": QUEUE_PATH.format(profile=profile),
        "prev_query": urlencode({**base, "offset": max(offset - QUEUE_PAGE, 0)}),
        "next_query": urlencode({**base, "offset": offset + QUEUE_PAGE}),
    }
    return render(request, "sanatorium/public_queue.html", ctx)


@pages.get(VERIFY_PATH, response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
async def verify_voucher_page(request: Request, session: DbSession) -> Response:
    """The form, or the answer for ``?number=…&code=…``: valid or not, where and when."""
    number = (request.query_params.get("number") or "").strip()
    code = (request.query_params.get("code") or "").strip()
    result: VoucherCheckOut | None = None
    with page_language(request):  # the sanatorium's name in the page's language
        if number or code:
            if not number or not code or len(number) > MAX_NUMBER or len(code) > MAX_CODE:
                result = VoucherCheckOut(valid=False)
            else:
                result = await service.check_voucher(session, number, code)
    ctx = {
        **public_ctx(),
        "number": number[:MAX_NUMBER],
        "code": code[:MAX_CODE],
        "result": result,
        "max_number": MAX_NUMBER,
        "max_code": MAX_CODE,
    }
    return render(request, "sanatorium/public_voucher_check.html", ctx)
