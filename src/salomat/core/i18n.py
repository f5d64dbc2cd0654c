"""Languages of the UI and messages: English (source), Russian, Uzbek (Latin), Kazakh.

Catalogs are Babel ``.po`` files under ``core/locale``; they are compiled in
memory at start-up, so there is no build step and no binary in the repo.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Sequence
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Русский",
    "uz": "Oʻzbekcha",
    "kk": "Қазақша",
}
BABEL_LOCALES = {"en": "en", "ru": "ru", "uz": "uz_Latn", "kk": "kk"}
COUNTRY_DEFAULT = {"UZ": "uz", "KZ": "kk"}
LANG_COOKIE = "salomat_lang"

_lang: ContextVar[str] = ContextVar("salomat_lang", default="en")


@lru_cache
def translations(lang: str) -> _gettext.NullTranslations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not po.exists():
        return _gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=BABEL_LOCALES[lang])
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def babel_locale(lang: str) -> Locale:
    return Locale.parse(BABEL_LOCALES.get(lang, "en"))


def set_language(lang: str) -> object:
    return _lang.set(lang if lang in LANGUAGES else "en")


def current_language() -> str:
    return _lang.get()


def gettext(message: str) -> str:
    return translations(_lang.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_lang.get()).ngettext(singular, plural, n)


def offered(languages: Sequence[str]) -> dict[str, str]:
    """The languages a pack offers (its ``languages`` list, in its order), with their names."""
    return {code: LANGUAGES[code] for code in languages if code in LANGUAGES}


def negotiate(
    *,
    cookie: str | None,
    user_pref: str | None,
    accept_language: str | None,
    country: str,
    languages: Sequence[str] | None = None,
) -> str:
    """Explicit choice, then the account's preference, then the browser, then the country.

    ``languages`` are those the deployed pack offers (its national language, ru and en);
    a choice outside them (a Kazakh cookie on an Uzbek deployment) is passed over.
    """
    allowed = offered(languages) if languages is not None else LANGUAGES
    for choice in (cookie, user_pref):
        if choice in allowed:
            return choice
    if accept_language:
        ranked: list[tuple[float, str]] = []
        for part in accept_language.split(","):
            tag, *params = part.split(";")
            code = tag.strip().lower().split("-")[0]
            weight = 1.0
            for param in params:
                name, _, value = param.partition("=")
                if name.strip().lower() == "q":
                    try:
                        weight = float(value.strip())
                    except ValueError:
                        weight = 0.0
            # q=0 means "not acceptable"; nan/inf are not weights
            if code in allowed and 0 < weight <= 1:
                ranked.append((weight, code))
        if ranked:
            return max(ranked, key=lambda t: t[0])[1]
    default = COUNTRY_DEFAULT.get(country, "en")
    return default if default in allowed else next(iter(allowed), "en")
