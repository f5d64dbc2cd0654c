"""The 403 message in the reader's language: the role by its name, what it may not do in
words, never the codes; the API keeps the codes as machine-readable members."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from salomat.core import audit, i18n
from salomat.core.audit import AuditQuery
from salomat.core.errors import Forbidden, Unauthorized
from salomat.core.permission_texts import PERMISSION_TEXTS
from salomat.core.policy import PERMISSIONS, Require, RequireAny
from salomat.core.security import Principal
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio

SNAKE_OR_PERMISSION = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z_]+:[a-z_]+\b")


def test_every_permission_says_what_it_allows_in_every_language():
    assert set(PERMISSION_TEXTS) == set(PERMISSIONS)
    for msgid in [*PERMISSION_TEXTS.values(), "Your role (%(role)s) may not do this: %(what)s."]:
        for lang in ("uz", "ru", "kk"):
            assert i18n.translations(lang).gettext(msgid) != msgid, (msgid, lang)


async def _refusal(db, make_user, role: str, permission: str) -> Forbidden:
    account = await make_user(role)
    principal = Principal(user_id=account.id, username=account.username, role=role, session_id="s")
    request = SimpleNamespace(state=SimpleNamespace(principal=principal, session=db), method="GET")
    with pytest.raises(Forbidden) as caught:
        await Require(permission)(request)  # type: ignore[arg-type]
    await db.rollback()
    return caught.value


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Your role (family doctor) may not do this: accept and answer referrals."),
        (
            "ru",
            "Вашей роли (семейный врач) это не разрешено: принимать направления и отвечать на них.",
        ),
        (
            "uz",
            "Sizning rolingiz (oilaviy shifokor) uchun bunga ruxsat yoʻq: "
            "yoʻllanmalarni qabul qilish va ularga javob berish.",
        ),
        (
            "kk",
            "Сіздің рөліңізге (отбасылық дәрігер) бұған рұқсат жоқ: "
            "жолдамаларды қабылдау және оларға жауап беру.",
        ),
    ],
)
async def test_the_refusal_names_the_role_and_the_act_in_the_language_shown(
    db, make_user, lang, expected
):
    refusal = await _refusal(db, make_user, "family_doctor", "referral:receive")
    token = i18n.set_language(lang)
    try:
        shown = refusal.detail
        translated = refusal.detail_translated
    finally:
        i18n.reset_language(token)
    assert shown == expected
    assert translated
    assert not SNAKE_OR_PERMISSION.search(shown)


def _request(db, principal: Principal | None, method: str = "GET", **headers: str):
    return SimpleNamespace(
        state=SimpleNamespace(principal=principal, session=db), method=method, headers=headers
    )


async def test_require_any_admits_a_role_holding_one_and_refuses_as_require_does(db, make_user):
    gate = RequireAny("record:write", "person:create")
    for role in ("nurse", "registrar"):  # the one holds the first, the other the second
        principal = Principal(user_id=0, username=role, role=role, session_id="s")
        assert await gate(_request(db, principal)) is principal  # type: ignore[arg-type]

    # a role holding neither: 403 and a denial in the audit trail, as Require refuses
    account = await make_user("analyst")
    analyst = Principal(
        user_id=account.id, username=account.username, role="analyst", session_id="s"
    )
    with pytest.raises(Forbidden) as caught:
        await gate(_request(db, analyst))  # type: ignore[arg-type]
    assert caught.value.extensions == {"role": "analyst", "permission": "record:write"}
    await db.rollback()
    await audit.write_after_rollback(db)
    await db.commit()
    denied, _ = await audit.search(db, AuditQuery(username=account.username, action="denied"))
    assert [r.detail for r in denied] == ["role analyst lacks record:write"]

    with pytest.raises(Unauthorized):
        await gate(_request(db, None))  # type: ignore[arg-type]

    # a cookie session's write still needs the form's token, whichever permission admits it
    cookie = Principal(
        user_id=0, username="r", role="registrar", session_id="s", via="cookie", csrf_token="t"
    )
    with pytest.raises(Forbidden):
        await gate(_request(db, cookie, "POST"))  # type: ignore[arg-type]
    posted = _request(db, cookie, "POST", **{"x-csrf-token": "t"})
    assert await gate(posted) is cookie  # type: ignore[arg-type]

    with pytest.raises(KeyError):
        RequireAny("record:write", "person:teleport")


def _main_text(html: str) -> str:
    main = re.search(r"<main\b.*?</main>", html, re.S)
    assert main, html
    return re.sub(r"<[^>]+>", " ", main.group(0))


@pytest.mark.parametrize("lang", ["ru", "uz"])
async def test_a_403_page_says_it_in_the_page_language_without_codes(client, make_user, lang):
    registrar = await make_user("registrar")
    await web_login(client, registrar)
    client.cookies.set("salomat_lang", lang)
    r = await client.get("/referrals")
    assert r.status_code == 403
    text = _main_text(r.text)
    t = i18n.translations(lang).gettext
    assert (
        t("Your role (%(role)s) may not do this: %(what)s.")
        % {
            "role": t("registrar"),
            "what": t("accept and answer referrals"),
        }
        in text
    )
    assert not SNAKE_OR_PERMISSION.search(text), text
    assert "registrar" not in text
    assert "referral" not in text
    assert "may not" not in text  # no English
    assert "Details" not in text  # the message itself, no raw detail beside a summary


async def test_the_api_keeps_its_codes_and_words_follow_accept_language(client, make_user, login):
    auth = await login(await make_user("registrar"))
    url = "/api/v1/facilities/ANY/referrals"
    en = (await client.get(url, headers=auth)).json()
    ru = (await client.get(url, headers={**auth, "Accept-Language": "ru"})).json()
    for body in (en, ru):
        assert body["type"] == "https://salomat.example/problems/forbidden"
        assert body["status"] == 403
        assert body["role"] == "registrar"
        assert body["permission"] == "referral:receive"
    assert en["detail"] == "Your role (registrar) may not do this: accept and answer referrals."
    assert ru["detail"] == (
        "Вашей роли (регистратор) это не разрешено: принимать направления и отвечать на них."
    )
