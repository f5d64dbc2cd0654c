"""``salomat insurance controls``: the nightly run of the fund's control rules.

A claim's lines meet the immediate rules as the claim arrives; the month-wide rules (the
volume outlier, which compares a provider with its peers) and the lines that arrived
after others of the same person and day need the whole month: run this from cron every
night. By default it runs last month (claims for it still arrive early in this month)
and this month; ``--month YYYY-MM`` runs one month. Running it again flags nothing twice
(a line carries a rule once) and never touches a decided line. Each month is one
transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console

from salomat.core import backup
from salomat.core.errors import Invalid
from salomat.core.uow import run_unit_of_work
from salomat.domains.insurance import service
from salomat.domains.insurance.service.claims import local_today, parse_month

app = typer.Typer(help="The health-insurance fund (nightly jobs).", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.callback()
def _insurance() -> None:
    """The health-insurance fund (nightly jobs)."""


def months_to_run(month: str | None, today: date) -> list[date]:
    """The month asked for, or last month and this month (of the country's today)."""
    if month is not None:
        try:
            return [parse_month(month)]
        except Invalid:
            raise typer.BadParameter(
                f"{month!r} is not a month from 1900-01 to 9998-12 (YYYY-MM)"
            ) from None
    this = service.month_of(today)
    return [service.add_months(this, -1), this]


@app.command("controls")
def controls(
    month: Annotated[
        str | None,
        typer.Option(help="YYYY-MM; default: last month and this month"),
    ] = None,
) -> None:
    """Run every control rule over all claim lines of the month(s) (nightly, from cron)."""
    months = months_to_run(month, local_today())
    try:
        backup.require_migrated()
    except backup.BackupError as e:
        err.print(str(e), style="bold red", markup=False)
        raise typer.Exit(1) from None
    for m in months:
        run = run_unit_of_work(lambda s, m=m: service.run_controls(s, m))
        fired = ", ".join(f"{rule} {n}" for rule, n in run.fired.items() if n) or "none"
        out.print(
            f"{run.month:%Y-%m}: {run.lines} line(s), {run.newly_flagged} newly flagged; "
            f"rules fired: {fired}",
            markup=False,
        )
