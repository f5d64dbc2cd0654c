"""The 403 message in the reader's language: the role by its name, what it may not do in
words, never the codes; the API keeps the codes as machine-readable members."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from salomat.core import i18n
from salomat.core.errors import Forbidden
from salomat.core.permission_texts import PERMISSION_TEXTS
from salomat.core.policy import PERMISSIONS, Require
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
