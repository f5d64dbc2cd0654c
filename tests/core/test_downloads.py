"""CSV exports are safe to open in a spreadsheet (OWASP, "CSV Injection")."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.core.downloads import csv_text, neutralise

#: written from OWASP's CSV Injection page: cells beginning with these run as formulas
OWASP = ["=", "+", "-", "@", "\t", "\r"]


@pytest.mark.parametrize("start", OWASP)
def test_each_formula_start_is_neutralised(start: str) -> None:
    assert neutralise(f"{start}cmd|' /C calc'!A0") == f"'{start}cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "cell", ["", "Registon 1", "a=b", "'=already", " =1", "+998901112233"[1:], "Ташкент"]
)
def test_ordinary_text_is_left_alone(cell: str) -> None:
    assert neutralise(cell) == cell


@pytest.mark.parametrize("number", [-5, -0.5, 0, 12, 3.5, None])
def test_numbers_stay_numbers(number: object) -> None:
    assert neutralise(number) == number


@given(st.lists(st.lists(st.text(), min_size=1, max_size=5), max_size=5))
def test_what_a_spreadsheet_reads_back_never_starts_a_formula(rows: list[list[str]]) -> None:
    header = ["a", "b", "c", "d", "e"]
    text = csv_text(header, rows)
    back = list(csv.reader(io.StringIO(text, newline="")))
    assert back[0] == header
    for written, read in zip(rows, back[1:], strict=True):
        for cell, got in zip(written, read, strict=True):
            assert not got.startswith(tuple(OWASP))
            assert got in (cell, "'" + cell)
