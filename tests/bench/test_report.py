"""The benchmark's markdown report: a figure whose answers were not 2xx says so (a run of
500s must not read as a slow 0.00)."""

from __future__ import annotations

from typing import Any

from bench.__main__ import markdown


def _result(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": "2026-12-06",
        "machine": {"cpu": "cpu", "cores": 2, "memory_gib": 1, "platform": "linux",
                    "python": "3.11", "postgresql": "15"},
        "country": "UZ",
        "seed": 1,
        "populations": [],
        "figures": [{"suite": "record", "name": "create", "people": 10_000, "value": 0.0,
                     "unit": "req/s", "baseline": "bare", "baseline_value": 600.0,
                     "ratio": 0.0, "target": None, "met": None, "detail": detail}],
        "errors": [],
        "load_average_start": 0.2,
    }  # fmt: skip


def test_a_figure_whose_answers_failed_says_so() -> None:
    text = markdown(_result({"completed": 2816, "ok": 0, "errors": 2816,
                             "statuses": {"500": 2816}, "baseline": {"errors": 0}}))  # fmt: skip
    assert "## Answers that were not 2xx" in text
    assert "record: create (10,000): 2,816 of 2,816 answers, statuses {'500': 2816}" in text


def test_a_clean_run_has_no_such_section() -> None:
    text = markdown(_result({"completed": 10, "ok": 10, "errors": 0, "statuses": {"201": 10}}))
    assert "not 2xx" not in text
