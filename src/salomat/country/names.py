"""Names in both scripts, and a script-insensitive key to compare them.

Uzbek is written in Latin (Cyrillic still common on older documents); Kazakh
in Cyrillic (Latin in passports). A person is registered in the script the
clerk typed; ``to_other_script`` derives the other one with the pack's letter
table, so both can be shown and searched.

``skeleton`` is for matching only: it folds both scripts and the usual
spelling variants of Central Asian names (x/kh/h, q/k, j/zh/dj, ye/e, yo/o,
ya/a, doubled letters, apostrophes) to one form, so that Юсупов, Yusupov,
Iusupov and Yusupov all give ``usupov``. It is never shown to anyone.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

from salomat.country import pack

Script = Literal["latn", "cyrl"]

_APOSTROPHES = "'`ʻʼ‘’´"
_VOWELS_LATN = set("aeiouy")
_VOWELS_CYRL = set("аеёиоуыэюяәөұүіў")


def script_of(text: str) -> Script | None:
    """``cyrl`` or ``latn`` by the letters used; None for no letters or a mixture.

    Modifier letters (Unicode category Lm: the Uzbek ʻ of oʻ and gʻ, U+02BB, and the
    tutuq belgisi ʼ, U+02BC) belong to no script and are left out of the count."""
    cyr = lat = 0
    for ch in text:
        if not ch.isalpha() or unicodedata.category(ch) == "Lm":
            continue
        if "CYRILLIC" in unicodedata.name(ch, ""):
            cyr += 1
        elif "LATIN" in unicodedata.name(ch, ""):
            lat += 1
        else:
            return None
    if cyr and not lat:
        return "cyrl"
    if lat and not cyr:
        return "latn"
    return None


@lru_cache(maxsize=8)
def _tables(country: str) -> tuple[dict[str, str], list[tuple[str, str]], str]:
    data = pack.load(country)
    forward: dict[str, str] = dict(data["cyrl_to_latn"])
    e_initial: str = data.get("cyrl_e_initial", "e")
    inverse: dict[str, str] = {}
    for cyr, lat in forward.items():
        if lat and lat not in inverse:
            inverse[lat] = cyr
    if e_initial not in inverse:
        inverse[e_initial] = "е"
    # longest Latin sequence first, so "sh" wins over "s" + "h"
    backward = sorted(inverse.items(), key=lambda kv: -len(kv[0]))
    return forward, backward, e_initial


def _match_case(src: str, out: str) -> str:
    if not out:
        return out
    if src.isupper() and len(src) > 1:
        return out.upper()
    if src[:1].isupper():
        return out[:1].upper() + out[1:]
    return out


def cyrl_to_latn(text: str, country: str) -> str:
    forward, _, e_initial = _tables(country)
    out: list[str] = []
    prev = ""
    for ch in unicodedata.normalize("NFC", text):
        low = ch.lower()
        if low == "е" and (not prev.isalpha() or prev.lower() in _VOWELS_CYRL):
            lat = e_initial
        else:
            lat = forward.get(low)
        if lat is None:
            out.append(ch)
        else:
            lat = lat if low == ch else (lat[:1].upper() + lat[1:])
            out.append(lat)
        prev = ch
    return "".join(out)


def latn_to_cyrl(text: str, country: str) -> str:
    _, backward, _ = _tables(country)
    text = unicodedata.normalize("NFC", text)
    for a in _APOSTROPHES:
        text = text.replace(a, "ʻ") if a != "ʼ" else text
    out: list[str] = []
    i = 0
    lower = text.lower()
    while i < len(text):
        for lat, cyr in backward:
            if lower.startswith(lat, i):
                src = text[i : i + len(lat)]
                out.append(cyr.upper() if src[:1].isupper() else cyr)
                i += len(lat)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def to_other_script(text: str, country: str) -> tuple[Script, str]:
    """(the script ``text`` is in, ``text`` in the other script of the pack)."""
    script = script_of(text) or "latn"
    if script == "cyrl":
        return script, cyrl_to_latn(text, country)
    return script, latn_to_cyrl(text, country)


# ---- matching key ----------------------------------------------------------------

_CYRL_FOLD = {
    "а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "е": "e",
    "ё": "o", "ж": "j", "з": "z", "и": "i", "й": "i", "к": "k", "қ": "k", "л": "l",
    "м": "m", "н": "n", "ң": "n", "о": "o", "ө": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ұ": "u", "ү": "u", "ў": "o", "ф": "f", "х": "h", "ҳ": "h",
    "һ": "h", "ц": "s", "ч": "C", "ш": "S", "щ": "S", "ъ": "", "ы": "i", "і": "i",
    "ь": "", "э": "e", "ю": "u", "я": "a",
}  # fmt: skip
_LATN_FOLD = [
    ("shch", "S"), ("dzh", "j"), ("sh", "S"), ("ch", "C"), ("zh", "j"), ("dj", "j"),
    ("kh", "h"), ("ts", "s"), ("yo", "o"), ("yu", "u"), ("ya", "a"), ("ye", "e"),
    ("iu", "u"), ("ia", "a"), ("io", "o"),
    ("x", "h"), ("q", "k"), ("w", "v"), ("c", "s"), ("y", "i"),
    ("ä", "a"), ("ö", "o"), ("ü", "u"), ("ū", "u"), ("ı", "i"), ("ş", "S"), ("ğ", "g"),
    ("ñ", "n"), ("é", "e"),
]  # fmt: skip
_NOT_LETTER = re.compile(r"[^a-zCS]")
_DOUBLE = re.compile(r"(.)\1+")


def skeleton(name: str | None) -> str:
    """One lower-case matching key for a name written in either script, any spelling."""
    if not name:
        return ""
    text = unicodedata.normalize("NFC", name).lower()
    text = "".join(_CYRL_FOLD.get(ch, ch) for ch in text)
    for a in _APOSTROPHES:
        text = text.replace(a, "")
    # doubled letters first too: the ICAO Latin of Kazakh writes ия as "iia" (Aliia)
    text = _DOUBLE.sub(r"\1", text)
    for src, dst in _LATN_FOLD:
        text = text.replace(src, dst)
    text = _NOT_LETTER.sub("", text)
    text = _DOUBLE.sub(r"\1", text)
    return text.replace("C", "ch").replace("S", "sh")


def name_key(family: str, given: str, patronymic: str | None) -> str:
    """``family given patronymic`` skeletons: what the trigram search indexes."""
    return " ".join(p for p in (skeleton(family), skeleton(given), skeleton(patronymic)) if p)


# ---- surnames in the child's gendered form ---------------------------------------------

Sex = Literal["male", "female"]

#: (masculine ending, feminine ending), longest first. The Russian-type surnames both
#: countries register take the gender of their bearer: -ов/-ова, -ев/-ева, -ин/-ина,
#: -ын/-ына, -ский/-ская (Русская грамматика, АН СССР, 1980, vol. 1, §§ 1199-1201 on
#: surnames in -ов, -ев, -ин and adjectival -ский); the Uzbek Latin alphabet writes them
#: -ov/-ova, -yev/-yeva (-ev/-eva), -in/-ina. Kazakh surnames formed with -ұлы "son of"
#: and -қызы "daughter of" (Latin -uly/-uli/-kyzy/-qizi), and surnames with no gendered
#: ending (Ли, Kim, Сейткали), are the same for a son and a daughter: they are left as
#: they are (a father's -ұлы is not turned into -қызы, which would name another person).
GENDERED_ENDINGS: tuple[tuple[str, str], ...] = (
    ("ский", "ская"),
    ("цкий", "цкая"),
    ("skiy", "skaya"),
    ("skiy", "skaia"),
    ("ov", "ova"),
    ("ev", "eva"),
    ("in", "ina"),
    ("yn", "yna"),
    ("ов", "ова"),
    ("ев", "ева"),
    ("ёв", "ёва"),
    ("ин", "ина"),
    ("ын", "ына"),
)
#: masculine endings that are also the ending of given names borne as surnames (Nuriddin,
#: Amin, Yasin, Шамсутдин): a name ending so is not made feminine, only a feminine -ina
#: (Мусина, Ilyina) is made masculine
AMBIGUOUS_MASCULINE = frozenset({"in", "yn", "ин", "ын"})
#: letters a stem keeps before the ending: "Lin", "Ov" or "Ин" are names, not suffixed forms
MIN_STEM = 2


def _with_ending(part: str, cut: int, ending: str) -> str:
    stem = part[: len(part) - cut]
    return stem + (ending.upper() if part.isupper() and len(part) > 1 else ending)


def _gendered_part(part: str, sex: Sex) -> str:
    low = part.lower()
    # the feminine endings first: -ova must not be read as -ov followed by a letter
    for masculine, feminine in sorted(GENDERED_ENDINGS, key=lambda e: -len(e[1])):
        if low.endswith(feminine) and len(low) - len(feminine) >= MIN_STEM:
            return part if sex == "female" else _with_ending(part, len(feminine), masculine)
    for masculine, feminine in sorted(GENDERED_ENDINGS, key=lambda e: -len(e[0])):
        if sex == "female" and masculine in AMBIGUOUS_MASCULINE:
            continue
        if low.endswith(masculine) and len(low) - len(masculine) >= MIN_STEM:
            return part if sex == "male" else _with_ending(part, len(masculine), feminine)
    return part


def gendered_surname(family_name: str, sex: Sex) -> str:
    """``family_name`` in the form a person of ``sex`` bears: Karimova -> Karimov for a
    son, Karimov -> Karimova for a daughter; each part of a double (hyphenated) surname
    on its own; a form that does not change with sex comes back as it is."""
    parts = re.split(r"(-|\s+)", family_name)
    return "".join(p if p == "-" or not p.strip() else _gendered_part(p, sex) for p in parts)
