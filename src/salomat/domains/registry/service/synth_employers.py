"""Synthetic employers for ``salomat synth`` (the insurance fund's paying employers).

The registry's own generator makes no employers; a programme that needs them (the
insurance fund's synthetic contributions) asks for ``count`` here. Each is an employer
row as the registry keeps it: a business id valid under the pack's rule (KZ BIN:
registration year and month, 4 resident legal entity, 0 head office, a serial, the
check digit; a format-only scheme takes any last digit), a synthetic name, a settlement
of the population. Written set-wise through the bulk writer, ids reserved up front.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from salomat.core.synth import SynthContext
from salomat.country import business_id as bid
from salomat.country import pack
from salomat.domains.registry.models import Employer
from salomat.domains.registry.schemas import SyntheticPopulation

__all__ = ["SyntheticEmployer", "synthesize_employers"]

_COLUMNS = ("id", "business_id", "name", "names", "settlement_id", "active", "created_at",
            "updated_at", "version")  # fmt: skip
_WORDS = ("Агро", "Құрылыс", "Сервис", "Трейд", "Логистик", "Медиа", "Энерго", "Тех", "Строй",
          "Транс", "Нур", "Алтын", "Дала", "Шығыс", "Батыс", "Орда")  # fmt: skip
_FORMS = {"KZ": "ТОО", "UZ": "MChJ"}


@dataclass(frozen=True)
class SyntheticEmployer:
    id: int
    business_id: str
    name: str
    settlement_id: int


def _body(country: str, k: int, year: int, month: int) -> str:
    """The business id without its check digit: YYMM, entity kind, attribute, serial."""
    length = int(bid.rules(country)["length"])
    head = f"{year % 100:02d}{month:02d}40"
    return head + f"{k:0{length - len(head) - 1}d}"


def synthesize_employers(
    ctx: SynthContext, population: SyntheticPopulation, count: int
) -> list[SyntheticEmployer]:
    """Write ``count`` employers in settlements of the population; returns them."""
    if count <= 0:
        return []
    rng = ctx.rng("registry.employers")
    settlements = sorted({population.settlement_id[i] for i in range(0, len(population), 97)})
    settlements = settlements or [0]
    table = Employer.__table__
    first = ctx.writer.next_id(table, count)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    form = _FORMS.get(ctx.country, "")
    languages = list(pack.load(ctx.country).get("languages") or [])
    out: list[SyntheticEmployer] = []
    rows = []
    serial = 0
    while len(out) < count:
        serial += 1
        year = rng.randint(2000, max(2001, ctx.as_of.year - 1))
        body = _body(ctx.country, serial, year, rng.randint(1, 12))
        digit = bid.check_digit(ctx.country, body)
        if digit is None:
            continue
        number = body + str(digit)
        name = f"{form} «{rng.choice(_WORDS)} {rng.choice(_WORDS)} {serial}»".strip()
        settlement = rng.choice(settlements) or None
        e = SyntheticEmployer(first + len(out), number, name, settlement or 0)
        out.append(e)
        names = {lang: name for lang in languages}
        rows.append((e.id, number, name, names, settlement, True, now, None, 1))
    n = ctx.writer.write(table, _COLUMNS, rows)  # type: ignore[arg-type]
    ctx.count(table.name, n)
    return out
