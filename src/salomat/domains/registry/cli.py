"""``salomat territory ...`` and ``salomat registry ...``.

``territory import`` loads the territory classifier and populations from a
CSV as one unit of work: every row is checked first and, when any row is
wrong, the report names each (line, column, why) and nothing is stored.
``registry dedup`` finds likely duplicate people; ``registry reindex``
recomputes the name search keys.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from salomat.core import backup
from salomat.core.errors import SalomatError
from salomat.core.uow import run_unit_of_work
from salomat.domains.registry import service
from salomat.domains.registry.schemas import ImportReport, PopulationOut

territory_app = typer.Typer(
    help="Territory: regions, districts, settlements.", no_args_is_help=True
)
app = typer.Typer(help="The person index: duplicates, search keys.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
BY = "cli:territory-import"


def _require_migrated() -> None:
    try:
        backup.require_migrated()
    except backup.BackupError as e:
        err.print(str(e), style="bold red", markup=False)
        raise typer.Exit(1) from None


def print_report(report: ImportReport, source: str) -> None:
    if report.issues:
        lines = len({i.line for i in report.issues})
        err.print(
            f"{source}: {lines} line(s) are wrong ({len(report.issues)} problem(s)); "
            "nothing was stored.",
            style="bold red",
            markup=False,
        )
        for i in report.issues:
            err.print(f"  line {i.line}, column {i.column}: {i.message}", style="red", markup=False)
        return
    verb = "would be" if report.dry_run else "were"
    out.print(
        f"{source}: {report.rows} rows checked. {report.created} unit(s) {verb} created, "
        f"{report.updated} updated, {report.unchanged} unchanged; "
        f"{report.populations} settlement population(s) {verb} stored."
        + (" Dry run: nothing was stored." if report.dry_run else ""),
        markup=False,
    )


@territory_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(help="a territory CSV (docs/registries.md)", exists=True, dir_okay=False),
    ],
    dry_run: Annotated[bool, typer.Option(help="check every row, store nothing")] = False,
) -> None:
    """Check FILE row by row and store it whole (units are created or updated by code)."""
    _require_migrated()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        err.print(f"{file}: not UTF-8 text.", style="bold red", markup=False)
        raise typer.Exit(1) from None

    async def work(session: Any) -> ImportReport:
        return await service.import_territory(session, text, dry_run=dry_run, by=BY)

    with err.status(f"Importing {file}..."):
        report = run_unit_of_work(work)
    print_report(report, str(file))
    if report.issues:
        raise typer.Exit(1)


@territory_app.command("population")
def population_command(
    code: Annotated[str, typer.Argument(help="a region, district or settlement code")],
    year: Annotated[int | None, typer.Option(help="default: the latest year stored")] = None,
) -> None:
    """Print the population of a unit by sex and 5-year age band."""
    _require_migrated()

    async def work(session: Any) -> tuple[str, PopulationOut]:
        unit = await service.get_territory(session, code)
        return unit.name, await service.territory_population(session, code, year)

    try:
        name, pop = run_unit_of_work(work)
    except SalomatError as e:
        err.print(e.detail, style="bold red", markup=False)
        raise typer.Exit(1) from None
    out.print(
        f"{name} ({code}), {pop.year}: {pop.total:,} people in {pop.settlements} settlement(s), "
        f"{pop.urban:,} urban, {pop.rural:,} rural.",
        markup=False,
    )
    out.print(f"  {'age':<7} {'male':>10} {'female':>10}", markup=False)
    for band, m, f in zip(pop.bands, pop.male, pop.female, strict=True):
        label = f"{band}+" if band == pop.bands[-1] else f"{band}-{band + 4}"
        out.print(f"  {label:<7} {m:>10,} {f:>10,}", markup=False)


class Backend(StrEnum):
    """Where ``registry dedup`` runs Splink (service.BACKENDS)."""

    duckdb = "duckdb"
    spark = "spark"


@app.command("dedup")
def dedup_command(
    threshold: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="lowest match probability kept as a pair")
    ] = 0.9,
    backend: Annotated[
        Backend,
        typer.Option(
            help="where Splink runs: DuckDB here, or Spark (the spark extra; Java 17+)",
        ),
    ] = Backend.duckdb,
) -> None:
    """Find likely duplicate people in the whole registry (Splink) for review; merges nothing."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    _require_migrated()
    labels = {"read": "reading people", "link": "linking (Splink)", "write": "writing pairs"}
    columns = (TextColumn("{task.description:<18}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as bar:
        tasks: dict[str, Any] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels[stage], total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        summary = run_unit_of_work(
            lambda s: service.dedup_registry(
                s, threshold=threshold, progress=tick, backend=backend.value
            )
        )
    model = "u by sampling, fixed m" if summary.trained else "fixed m/u (small registry)"
    out.print(
        f"Run {summary.run_id}: {summary.people:,} people, {summary.compared:,} pairs compared, "
        f"{summary.above_threshold:,} at or above {summary.threshold}: {summary.new_pairs:,} new, "
        f"{summary.updated_pairs:,} updated, {summary.left_alone:,} already reviewed (left "
        f"alone). Model: {model}, on {backend.value}; {summary.seconds:.1f} s. "
        "Review: GET /api/v1/duplicates.",
        markup=False,
    )


@app.command("reindex")
def reindex_command() -> None:
    """Recompute every person's transliterations and search keys (after an upgrade says so)."""
    _require_migrated()
    with err.status("Recomputing name keys..."):
        done = run_unit_of_work(lambda s: service.reindex_names(s))
    out.print(f"Recomputed the name keys of {done:,} people.", markup=False)
