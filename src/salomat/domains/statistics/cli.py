"""``salomat statistics``: compute the indicators of closed periods now, and start the
nightly run."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from salomat.core.db import dispose_engines, session_factory
from salomat.core.errors import Invalid
from salomat.core.uow import run_unit_of_work
from salomat.domains.statistics import service

app = typer.Typer(help="National health indicators.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


@app.callback()
def _statistics() -> None:
    """National health indicators."""


@app.command("aggregate")
def aggregate(
    period: list[str] = typer.Option(..., "--period", help="a closed year YYYY or month YYYY-MM"),
) -> None:
    """Compute every stored indicator of the periods (replacing their rows)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    try:
        for p in period:
            service.parse_period(p)
    except Invalid as e:
        err.print(f"period: {'; '.join(f.message for f in e.errors)}")
        raise typer.Exit(2) from e

    async def main() -> int:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err) as bar:
            task = bar.add_task("aggregate", total=len(period))

            def step(done: int, total: int, code: str) -> None:
                bar.update(task, completed=done, description=code)

            try:
                return await service.run_aggregate(session_factory(), period, step)
            finally:
                await dispose_engines()

    rows = asyncio.run(main())
    out.print(f"{rows} indicator values written for {', '.join(period)}")


@app.command("schedule")
def schedule() -> None:
    """Queue the nightly aggregate run unless one is queued (it then re-queues itself)."""
    job_id = run_unit_of_work(lambda s: service.ensure_nightly(s))
    out.print(f"nightly job {job_id} queued" if job_id else "a nightly job is already queued")
