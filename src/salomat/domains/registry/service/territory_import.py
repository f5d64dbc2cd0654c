"""Loading territory in bulk from a CSV, with the population of its settlements.

``check_territory_csv`` validates every row and names each bad one;
``import_territory`` stores all rows or none.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.text import problem as text_problem
from salomat.domains.registry.models import Territory
from salomat.domains.registry.schemas import (
    AGE_BANDS,
    ImportIssue,
    ImportReport,
    PopulationIn,
    TerritoryIn,
    TerritoryRow,
)
from salomat.domains.registry.service import versions
from salomat.domains.registry.service.population import _replace_population
from salomat.domains.registry.service.territory import (
    PARENT_LEVEL,
    RESOURCE,
    _codes,
    _out,
    languages,
)

__all__ = ["check_territory_csv", "import_territory"]

_CODE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_TRUE = {"true", "1", "yes", "rural"}
_FALSE = {"false", "0", "no", "urban"}
POPULATION_COLUMNS = [f"{s}_{b}" for s in ("male", "female") for b in AGE_BANDS]
BASE_COLUMNS = ["code", "level", "parent_code", "name", "is_rural", "latitude", "longitude"]


def _issue(issues: list[ImportIssue], line: int, column: str, message: str) -> None:
    issues.append(ImportIssue(line=line, column=column, message=message))


def _float(
    issues: list[ImportIssue], line: int, column: str, raw: str, bound: float
) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        _issue(issues, line, column, f"{raw!r} is not a number")
        return None
    if not math.isfinite(value) or not -bound <= value <= bound:
        _issue(issues, line, column, f"must be between -{bound:g} and {bound:g}")
        return None
    return value


def _header(
    cells: list[str], line: int, langs: Sequence[str], issues: list[ImportIssue]
) -> list[str]:
    columns = [c.strip() for c in cells]
    known = set(BASE_COLUMNS) | {"year"} | set(POPULATION_COLUMNS)
    known |= {f"name_{lang}" for lang in langs}
    seen: set[str] = set()
    for col in columns:
        if col in seen:
            _issue(issues, line, col, "the column appears twice")
        seen.add(col)
        if col not in known:
            hint = (
                f"languages of the pack: {', '.join(langs)}"
                if col.startswith("name_")
                else "see docs/registries.md for the columns"
            )
            _issue(issues, line, col or "(empty)", f"unknown column ({hint})")
    for col in ("code", "level", "name"):
        if col not in seen:
            _issue(issues, line, col, "required column is missing")
    pop = [c for c in [*POPULATION_COLUMNS, "year"] if c in seen]
    if pop and len(pop) != len(POPULATION_COLUMNS) + 1:
        missing = [c for c in ["year", *POPULATION_COLUMNS] if c not in seen]
        _issue(
            issues,
            line,
            missing[0],
            f"population needs every band column: missing {', '.join(missing)}",
        )
    return columns


def _row(
    line: int, cells: dict[str, str], langs: Sequence[str], issues: list[ImportIssue]
) -> TerritoryRow | None:
    before = len(issues)
    code = cells.get("code", "")
    if not code:
        _issue(issues, line, "code", "required")
    elif not _CODE.match(code):
        _issue(issues, line, "code", "1 to 32 letters, digits, '.', '_' or '-'")
    level = cells.get("level", "")
    if level not in PARENT_LEVEL:
        _issue(issues, line, "level", f"{level!r} is not region, district or settlement")
    parent = cells.get("parent_code", "")
    if level in PARENT_LEVEL:
        wanted = PARENT_LEVEL[level]
        if wanted is None and parent:
            _issue(issues, line, "parent_code", "a region has no parent")
        elif wanted is not None and not parent:
            _issue(issues, line, "parent_code", f"required: the {wanted} the {level} lies in")
    if parent and not _CODE.match(parent):
        _issue(issues, line, "parent_code", "1 to 32 letters, digits, '.', '_' or '-'")
    name = cells.get("name", "")
    if not name:
        _issue(issues, line, "name", "required")
    elif len(name) > 200:
        _issue(issues, line, "name", "at most 200 characters")
    names = {}
    for lang in langs:
        value = cells.get(f"name_{lang}", "")
        if len(value) > 200:
            _issue(issues, line, f"name_{lang}", "at most 200 characters")
        elif value:
            names[lang] = value
    for column in ("name", *(f"name_{lang}" for lang in langs)):
        refused = text_problem(cells.get(column, ""))
        if refused:
            _issue(issues, line, column, refused)
    raw_rural = cells.get("is_rural", "").lower()
    is_rural: bool | None = None
    if raw_rural in _TRUE:
        is_rural = True
    elif raw_rural in _FALSE:
        is_rural = False
    elif raw_rural:
        _issue(issues, line, "is_rural", f"{raw_rural!r} is not true or false")
    if level == "settlement" and not raw_rural:
        _issue(issues, line, "is_rural", "required for a settlement: true (rural) or false (urban)")
    elif level in ("region", "district") and raw_rural:
        _issue(issues, line, "is_rural", "only settlements are rural or urban: leave it empty")
    lat = _float(issues, line, "latitude", cells.get("latitude", ""), 90)
    lon = _float(issues, line, "longitude", cells.get("longitude", ""), 180)
    if (cells.get("latitude", "") == "") != (cells.get("longitude", "") == ""):
        missing = "latitude" if not cells.get("latitude", "") else "longitude"
        _issue(issues, line, missing, "give both coordinates or neither")
    population = _population(line, cells, level, issues)
    if len(issues) > before:
        return None
    unit = TerritoryIn(
        code=code,
        level=level,  # type: ignore[arg-type]
        parent_code=parent or None,
        name=name,
        names=names,
        is_rural=is_rural,
        latitude=lat,
        longitude=lon,
    )
    return TerritoryRow(line=line, unit=unit, population=population)


def _population(
    line: int, cells: dict[str, str], level: str, issues: list[ImportIssue]
) -> PopulationIn | None:
    filled = [c for c in ["year", *POPULATION_COLUMNS] if cells.get(c, "")]
    if not filled:
        return None
    if level != "settlement":
        _issue(issues, line, filled[0], "population is given for settlements only: leave it empty")
        return None
    year_raw = cells.get("year", "")
    year = 0
    if not year_raw:
        _issue(issues, line, "year", "required with the population")
    elif not (year_raw.isascii() and year_raw.isdigit()) or not 1900 <= int(year_raw) <= 2100:
        _issue(issues, line, "year", f"{year_raw!r} is not a year between 1900 and 2100")
    else:
        year = int(year_raw)
    counts: dict[str, int] = {}
    for col in POPULATION_COLUMNS:
        raw = cells.get(col, "")
        if not raw:
            _issue(issues, line, col, "required: give every band (0 when nobody)")
        elif not raw.isascii() or not raw.isdigit():
            _issue(issues, line, col, f"{raw!r} is not a whole number of people (0 or more)")
        elif int(raw) > 10_000_000:
            _issue(issues, line, col, "more than 10 million people in one band")
        else:
            counts[col] = int(raw)
    if len(counts) != len(POPULATION_COLUMNS) or not year:
        return None
    return PopulationIn(
        year=year,
        male=[counts[f"male_{b}"] for b in AGE_BANDS],
        female=[counts[f"female_{b}"] for b in AGE_BANDS],
    )


def check_territory_csv(
    text: str, langs: Sequence[str] | None = None
) -> tuple[list[TerritoryRow], list[ImportIssue]]:
    """Every row checked on its own and against the file; ``issues`` names each bad cell.

    Line numbers are the file's (comments and blank lines count), so a clerk
    can open the file at the line. Parents outside the file are left to the
    import, which looks them up in the database.
    """
    langs = list(langs) if langs is not None else languages()
    issues: list[ImportIssue] = []
    rows: list[TerritoryRow] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    columns: list[str] | None = None
    start = 1
    try:
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if columns is None:
                columns = _header(cells, line, langs, issues)
                if issues:
                    return [], issues
                continue
            if len(cells) != len(columns):
                _issue(
                    issues, line, "(row)", f"has {len(cells)} cells; the header has {len(columns)}"
                )
                continue
            row = _row(
                line, {c: v.strip() for c, v in zip(columns, cells, strict=True)}, langs, issues
            )
            if row is not None:
                rows.append(row)
    except csv.Error as e:
        _issue(issues, start, "(row)", f"not readable as CSV: {e}")
    if columns is None:
        _issue(issues, 1, "(header)", "the file has no header row")
    _check_file(rows, issues)
    issues.sort(key=lambda i: i.line)
    return rows, issues


def _check_file(rows: list[TerritoryRow], issues: list[ImportIssue]) -> None:
    """Duplicate codes and parents named in the file at the wrong level."""
    first: dict[str, TerritoryRow] = {}
    for row in rows:
        code = row.unit.code
        if code in first:
            _issue(issues, row.line, "code", f"{code} is already on line {first[code].line}")
        else:
            first[code] = row
    for row in rows:
        parent = row.unit.parent_code
        if parent is None or parent not in first:
            continue
        wanted = PARENT_LEVEL[row.unit.level]
        if first[parent].unit.level != wanted:
            _issue(
                issues,
                row.line,
                "parent_code",
                f"{parent} is a {first[parent].unit.level} (line {first[parent].line}); "
                f"a {row.unit.level} lies in a {wanted}",
            )


async def _existing(session: AsyncSession, codes: list[str]) -> dict[str, Territory]:
    found: dict[str, Territory] = {}
    for i in range(0, len(codes), 500):
        chunk = codes[i : i + 500]
        for t in await session.scalars(select(Territory).where(Territory.code.in_(chunk))):
            found[t.code] = t
    return found


_LEVEL_ORDER = {"region": 0, "district": 1, "settlement": 2}


async def import_territory(
    session: AsyncSession, text: str, *, dry_run: bool = False, by: str = "system"
) -> ImportReport:
    """All rows or none: any issue (in the file or against the database) stores nothing.

    A code that exists is updated (name, names, rural, coordinates) when it
    changed; its level and parent must stay. A settlement's population for
    the row's year replaces what was stored for that year.
    """
    rows, issues = check_territory_csv(text)
    report = ImportReport(rows=len(rows), dry_run=dry_run)
    in_file = {r.unit.code: r for r in rows}
    existing = await _existing(
        session, list({*in_file, *(r.unit.parent_code for r in rows if r.unit.parent_code)})
    )
    by_id = {t.id: t for t in existing.values()}
    missing_parents = {
        t.parent_id for t in existing.values() if t.parent_id and t.parent_id not in by_id
    }
    parent_codes = await _codes(session, missing_parents)
    parent_codes |= {t.id: t.code for t in existing.values()}
    for row in rows:
        u = row.unit
        old = existing.get(u.code)
        if old is not None:
            if old.level != u.level:
                _issue(issues, row.line, "level", f"{u.code} exists as a {old.level}")
            old_parent = parent_codes.get(old.parent_id) if old.parent_id else None
            if old_parent != u.parent_code:
                _issue(
                    issues,
                    row.line,
                    "parent_code",
                    f"{u.code} lies in {old_parent or 'nothing'}; moving a unit is not supported "
                    "(a reform gives new codes)",
                )
        if u.parent_code and u.parent_code not in in_file:
            parent = existing.get(u.parent_code)
            wanted = PARENT_LEVEL[u.level]
            if parent is None:
                _issue(
                    issues, row.line, "parent_code",
                    f"{u.parent_code} is neither in the file nor in the registry",
                )  # fmt: skip
            elif parent.level != wanted:
                _issue(
                    issues, row.line, "parent_code",
                    f"{u.parent_code} is a {parent.level}; a {u.level} lies in a {wanted}",
                )  # fmt: skip
    if issues:
        issues.sort(key=lambda i: i.line)
        report.issues = issues
        return report
    ids = {code: t.id for code, t in existing.items()}
    for row in sorted(rows, key=lambda r: _LEVEL_ORDER[r.unit.level]):
        u = row.unit
        old = existing.get(u.code)
        if old is None:
            if not dry_run:
                t = Territory(
                    code=u.code,
                    level=u.level,
                    parent_id=ids[u.parent_code] if u.parent_code else None,
                    name=u.name,
                    names=dict(u.names),
                    is_rural=u.is_rural,
                    latitude=u.latitude,
                    longitude=u.longitude,
                )
                session.add(t)
                await session.flush()
                ids[u.code] = t.id
                out = _out(t, u.parent_code)
                await versions.record_version(session, RESOURCE, out, action="create", by=by)
            report.created += 1
        else:
            new = {
                "name": u.name,
                "names": dict(u.names),
                "is_rural": u.is_rural,
                "latitude": u.latitude,
                "longitude": u.longitude,
            }
            if all(getattr(old, k) == v for k, v in new.items()):
                report.unchanged += 1
            else:
                report.updated += 1
                if not dry_run:
                    for k, v in new.items():
                        setattr(old, k, v)
                    await session.flush()
                    out = _out(old, u.parent_code)
                    await versions.record_version(session, RESOURCE, out, action="update", by=by)
        if row.population is not None:
            report.populations += 1
            if not dry_run:
                await _replace_population(session, ids[u.code], row.population)
    if not dry_run:
        await session.flush()
        report.stored = True
    return report
