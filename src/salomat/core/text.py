"""Free text that people type: names, addresses, notes, reasons.

Control characters and the invisible marks that reorder text have no place in
a name or a note: they make two records that look identical differ, turn
``Karimova`` on a screen into something else in a file (Trojan-Source style
reordering), break CSV and PDF output and terminals. They are refused, not
silently removed, so that what was stored is what was typed.

Refused everywhere: C0 controls (U+0000-U+001F) except the ordinary
whitespace of multi-line text, DEL and the C1 controls (U+007F-U+009F), the
bidirectional embeddings, overrides and isolates (U+202A-U+202E,
U+2066-U+2069) and the direction marks (U+200E, U+200F, U+061C; none of the
scripts of our packs needs them, and a mark inside a name only hides it from
a search), and lone surrogates (which a JSON ``\\ud800`` escape can carry and
no database can store).

``NameText`` (names, addresses, documents, places; one line) also refuses tab,
line feed, carriage return and the Unicode line and paragraph separators
(U+2028, U+2029). ``Notes`` (notes, reasons, instructions, conclusions) keeps
``\\t``, ``\\n``, ``\\r`` and U+2028/U+2029. Ordinary spaces, the no-break
spaces (U+00A0, U+202F) and every letter, including ʻ (U+02BB) and ʼ (U+02BC),
are accepted.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from salomat.core import i18n
from salomat.core.i18n import N_

#: error type (pydantic's ``type``) -> msgid; ``code_point`` is e.g. ``U+0007``
MESSAGES: dict[str, str] = {
    "text_control_character": N_("contains a control character (%(code_point)s)"),
    "text_direction_character": N_(
        "contains a character that changes the direction of text (%(code_point)s)"
    ),
    "text_line_break": N_("must be a single line (contains %(code_point)s)"),
    "text_invalid_character": N_("contains an invalid character (%(code_point)s)"),
}

_LINE_BREAKS = "\t\n\r\u2028\u2029"
_DIRECTION = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_SURROGATE = "\ud800-\udfff"

_MULTI_LINE = re.compile(f"[{_CONTROL}{_DIRECTION}{_SURROGATE}]")
_SINGLE_LINE = re.compile(f"[{_CONTROL}{_DIRECTION}{_SURROGATE}{_LINE_BREAKS}]")


def _kind(char: str) -> str:
    if char in _LINE_BREAKS:
        return "text_line_break"
    cp = ord(char)
    if 0xD800 <= cp <= 0xDFFF:
        return "text_invalid_character"
    if cp <= 0x1F or 0x7F <= cp <= 0x9F:
        return "text_control_character"
    return "text_direction_character"


def refused_character(value: str, *, multiline: bool = False) -> tuple[str, str] | None:
    """The first character free text may not hold, as (error type, ``U+XXXX``), or None."""
    found = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    return _kind(char), f"U+{ord(char):04X}"


def message(error_type: str, ctx: dict[str, Any] | None) -> str | None:
    """The message of one of these errors in the current language (None if not ours)."""
    msgid = MESSAGES.get(error_type)
    if msgid is None or not ctx or "code_point" not in ctx:
        return None
    return i18n.gettext(msgid) % {"code_point": ctx["code_point"]}


def problem(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with ``value`` as free text, in the current language (None: nothing).

    For checks outside a schema, such as the cells of an imported CSV file.
    """
    refused = refused_character(value, multiline=multiline)
    if refused is None:
        return None
    error_type, code_point = refused
    return message(error_type, {"code_point": code_point})


def _check(value: str, multiline: bool) -> str:
    refused = refused_character(value, multiline=multiline)
    if refused is not None:
        error_type, code_point = refused
        ctx = {"code_point": code_point}
        # already in the request's language where one is set; ctx lets the error
        # handler translate it again when the language is known only later
        raise PydanticCustomError(error_type, message(error_type, ctx) or error_type, ctx)
    return value


def _single_line(value: str | None) -> str | None:
    return value if value is None else _check(value, multiline=False)


def _multi_line(value: str | None) -> str | None:
    return value if value is None else _check(value, multiline=True)


# The optional forms wrap ``str | None`` rather than being ``NameText | None``: a
# Field's max_length then still reaches the string (pydantic reports it as
# string_too_long) instead of becoming a generic length check after the validator.

#: a name, address, place or document reference: one line of printable text
NameText = Annotated[str, AfterValidator(_single_line)]
OptNameText = Annotated[str | None, AfterValidator(_single_line)]
#: a note, reason, instruction or conclusion: printable text over several lines
Notes = Annotated[str, AfterValidator(_multi_line)]
OptNotes = Annotated[str | None, AfterValidator(_multi_line)]
