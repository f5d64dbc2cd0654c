"""``salomat formulary ...``: the national formulary from the drug register's CSV export.

``formulary import FILE`` checks every row first and stores nothing when one is
wrong; the report names each line (the header is line 1), column and reason.
``--dry-run`` checks and counts without storing.
"""

from __future__ import annotations

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
