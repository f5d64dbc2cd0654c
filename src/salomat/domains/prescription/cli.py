"""``salomat formulary ...``: the national formulary from the drug register's CSV export.

``formulary import FILE`` checks every row first and stores nothing when one is
wrong; the report names each line (the header is line 1), column and reason.
``--dry-run`` checks and counts without storing.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from salomat.core import backup
from salomat.core.uow import run_unit_of_work
from salomat.domains.prescription import service

app = typer.Typer(help="The formulary of medicines (CSV import).", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.callback()
def _formulary() -> None:
    """The formulary of medicines (CSV import)."""


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and count only")] = False,
) -> None:
    """Add or update packages from a CSV (code,inn,atc,trade_name,form,strength,unit,...)."""
    try:
        backup.require_migrated()
    except backup.BackupError as e:
        err.print(str(e), style="bold red", markup=False)
        raise typer.Exit(1) from None
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        err.print(f"{file}: the CSV must be UTF-8", style="bold red", markup=False)
        raise typer.Exit(1) from None
    report = run_unit_of_work(lambda s: service.import_formulary(s, text, dry_run=dry_run))
    if report.errors:
        for e in report.errors:
            err.print(f"{file}:{e.line}: {e.column}: {e.reason}", markup=False)
        err.print(
            f"{len({e.line for e in report.errors})} line(s) are wrong; nothing was stored.",
            style="bold red",
            markup=False,
        )
        raise typer.Exit(1)
    verb = "Would add" if dry_run else "Added"
    out.print(
        f"{verb} {report.created} and {'would update' if dry_run else 'updated'} "
        f"{report.updated} packages ({report.rows} rows).",
        markup=False,
    )


claims_app = typer.Typer(help="Claims to the fund (monthly jobs).", no_args_is_help=True)


@claims_app.callback()
def _claims() -> None:
    """Claims to the fund (monthly jobs)."""


def _month(value: str | None) -> date:
    if value is None:
        first = date.today().replace(day=1)
        return (first - timedelta(days=1)).replace(day=1)  # the month just ended
    try:
        year, month = (int(x) for x in value.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a month (YYYY-MM)") from None


@claims_app.command("flag-outliers")
def flag_outliers_command(
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM; default: the month just ended")
    ] = None,
) -> None:
    """Flag the claim lines of prescribers far above their peers' median (run monthly)."""
    first = _month(month)
    try:
        backup.require_migrated()
    except backup.BackupError as e:
        err.print(str(e), style="bold red", markup=False)
        raise typer.Exit(1) from None
    flagged = run_unit_of_work(lambda s: service.flag_outliers(s, first))
    out.print(f"{first:%Y-%m}: {flagged} claim line(s) newly flagged.", markup=False)
