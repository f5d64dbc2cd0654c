"""Free text refuses control and direction characters, and accepts every letter people write."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from salomat.core import i18n
from salomat.core.text import (
    MESSAGES,
    NameText,
    Notes,
    OptNameText,
    OptNotes,
    message,
    refused_character,
)

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db


class _Form(BaseModel):
    name: NameText = Field(max_length=300)
    address: OptNameText = Field(default=None, max_length=300)
    note: Notes = ""
    more: OptNotes = None


def _errors(**fields: object) -> list[dict]:
    try:
        _Form(**({"name": "A"} | fields))
    except ValidationError as exc:
        return list(exc.errors())
    return []


_C0 = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
_C1 = [chr(c) for c in range(0x7F, 0xA0)]
_BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
_MARKS = ["\u200e", "\u200f", "\u061c"]
_ALWAYS_REFUSED = _C0 + _C1 + _BIDI + _MARKS
_LINE = ["\t", "\n", "\r", "\u2028", "\u2029"]

_LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZʻʼ"
_CYRILLIC = "".join(chr(c) for c in range(0x0410, 0x0450)) + "ЁёӘәҒғҚқҢңӨөҰұҮүҺһІіЎўҲҳ"
_PEOPLE_TEXT = st.text(alphabet=_LATIN + _CYRILLIC + " -'", min_size=1, max_size=120)


@given(
    before=_PEOPLE_TEXT,
    bad=st.sampled_from(_ALWAYS_REFUSED),
    after=st.text(max_size=20),
)
def test_any_text_holding_a_control_or_direction_character_is_refused(
    before: str, bad: str, after: str
) -> None:
    text = before + bad + after
    for field in ("name", "address", "note", "more"):
        errors = _errors(**{field: text})
        assert errors, (field, text)
        assert errors[0]["loc"] == (field,)
        assert errors[0]["type"] in MESSAGES


@given(before=_PEOPLE_TEXT, bad=st.sampled_from(_LINE), after=_PEOPLE_TEXT)
def test_names_are_one_line_and_notes_keep_their_lines(before: str, bad: str, after: str) -> None:
    text = before + bad + after
    errors = _errors(name=text)
    assert [e["type"] for e in errors] == ["text_line_break"]
    assert f"U+{ord(bad):04X}" in errors[0]["msg"]
    assert _errors(address=text)
    assert _errors(note=text, more=text) == []


@given(text=_PEOPLE_TEXT)
def test_letters_spaces_hyphens_and_apostrophes_are_accepted(text: str) -> None:
    assert _errors(name=text, address=text, note=text, more=text) == []


@pytest.mark.parametrize(
    ("code_point", "refused"),
    [
        (0x001F, True),
        (0x0020, False),
        (0x007E, False),
        (0x007F, True),
        (0x009F, True),
        (0x00A0, False),
        (0x061C, True),
        (0x200E, True),
        (0x200F, True),
        (0x202A, True),
        (0x202E, True),
        (0x202F, False),  # narrow no-break space, in French and Kazakh typography
        (0x2065, False),  # unassigned; nothing to refuse it for
        (0x2066, True),
        (0x2069, True),
        (0x206A, False),  # deprecated format character, outside the isolates
        (0x02BB, False),
        (0x02BC, False),
    ],
)
def test_boundary_code_points(code_point: int, refused: bool) -> None:
    text = f"Ab{chr(code_point)}cd"
    for field in ("name", "note"):
        errors = _errors(**{field: text})
        assert bool(errors) is refused, (field, hex(code_point))
        if refused:
            assert f"U+{code_point:04X}" in errors[0]["msg"]


def test_paragraph_separator_breaks_a_name_but_not_a_note() -> None:
    assert [e["type"] for e in _errors(name="Ab\u2029cd")] == ["text_line_break"]
    assert _errors(note="Ab\u2029cd") == []


def test_the_message_names_the_kind_of_character_and_its_code_point() -> None:
    (error,) = _errors(name="Karimova\x07")
    assert error["msg"] == "contains a control character (U+0007)"
    assert error["ctx"] == {"code_point": "U+0007"}
    (error,) = _errors(name="Kari\u202emova")
    assert error["msg"] == "contains a character that changes the direction of text (U+202E)"
    (error,) = _errors(name="Kari\nmova")
    assert error["msg"] == "must be a single line (contains U+000A)"


def test_lone_surrogates_are_refused() -> None:
    assert refused_character("ab\ud800", multiline=True) == ("text_invalid_character", "U+D800")
    assert _errors(note="ab\udfff")


def test_none_and_empty_pass() -> None:
    assert _errors(address=None, more=None, note="") == []
    assert refused_character("") is None


def test_length_bounds_still_answer_as_string_lengths() -> None:
    (error,) = _errors(address="x" * 301)
    assert error["type"] == "string_too_long"


def test_messages_translate_in_the_current_language() -> None:
    token = i18n.set_language("ru")
    try:
        text = message("text_control_character", {"code_point": "U+0007"})
    finally:
        i18n._lang.reset(token)  # type: ignore[arg-type]
    assert text == "содержит управляющий символ (U+0007)"
    assert message("string_too_long", {"max_length": 3}) is None


def test_the_first_refused_character_is_named() -> None:
    assert refused_character("a\u202eb\x07") == ("text_direction_character", "U+202E")
    assert refused_character("a\tb", multiline=True) is None
    assert refused_character("a\tb") == ("text_line_break", "U+0009")
