"""``salomat claims flag-outliers``: the monthly outlier job from the command line."""

from __future__ import annotations

from tests.test_cli import _env, invoke, scratch_url  # noqa: F401  (the fixture)


def test_flag_outliers_runs_for_a_month_and_names_a_bad_one(scratch_url, tmp_path):  # noqa: F811
    env = _env(scratch_url, tmp_path / "var")
    r = invoke(["claims", "flag-outliers", "--month", "2026-10"], env=env)
    assert r.exit_code == 0, r.output
    assert "2026-10: 0 claim line(s) newly flagged." in r.output
    bad = invoke(["claims", "flag-outliers", "--month", "October"], env=env)
    assert bad.exit_code == 2
    assert "is not a month (YYYY-MM)" in bad.output
