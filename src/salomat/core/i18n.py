"""Languages of the UI and messages: English (source), Russian, Uzbek (Latin), Kazakh.

Catalogs are Babel ``.po`` files under ``core/locale``; they are compiled in
memory at start-up, so there is no build step and no binary in the repo.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


def N_(message: str) -> str:
    """Marks a message for the catalog (``pybabel extract`` knows ``N_``); it is translated
    where it is shown. The one marker every module imports."""
    return message


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


def reset_language(token: object) -> None:
    _lang.reset(token)  # type: ignore[arg-type]


#: The deployed pack's languages; the UI layer (which may read the pack) installs it.
_pack_languages: Callable[[], Sequence[str]] | None = None


def install_pack_languages(provider: Callable[[], Sequence[str]]) -> None:
    global _pack_languages
    _pack_languages = provider


def pack_languages() -> list[str]:
    """The languages the deployed pack offers (all catalogs until the UI installs the pack's)."""
    return list(_pack_languages() if _pack_languages is not None else LANGUAGES)


def current_language() -> str:
    return _lang.get()


def gettext(message: str) -> str:
    return translations(_lang.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_lang.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A message whose English text means different things in different places (the
    catalog's ``msgctxt``): "Settlements" as places, not as payments."""
    return translations(_lang.get()).pgettext(context, message)


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
    default: str | None = None,
) -> str:
    """Explicit choice, then the account's preference, then the browser, then the country.

    ``languages`` are those the deployed pack offers (its national language, ru and en):
    the switch lists them, and a stored preference or the browser's wish outside them is
    passed over. A language picked on purpose (the cookie the /language link sets) is
    honoured whenever its catalog exists.
    """
    allowed = offered(languages) if languages is not None else LANGUAGES
    if cookie in LANGUAGES:  # chosen on purpose (the /language link): any catalog we have
        return cookie
    if user_pref in allowed:
        return user_pref
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
    default = default or COUNTRY_DEFAULT.get(country, "en")
    return default if default in allowed else next(iter(allowed), "en")
