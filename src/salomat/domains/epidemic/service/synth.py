"""A synthetic epidemic for ``salomat synth --epidemic-r R`` (docs/epidemic.md "Synthetic
epidemic"): case notifications drawn from a renewal process with the pack's serial
interval at a given R, spread over the regions by their synthetic population.

- **Cases.** Day 0 has ``seed_cases``; then I_t ~ Poisson(R · Λ_t), Λ_t = Σ_{s≥1} w_s
  I_{t−s} (the pack's serial interval w) — the process ``rt.estimate_rt`` inverts, so Rt
  estimated on the result comes back near R (tested).
- **Where.** Each day's cases are split over the regions by a multinomial weighted by the
  living synthetic people of each region; each case is a living person of that region
  born by the onset, drawn without replacement.
- **What.** ICD-10 U07.1 (laboratory-confirmed, ``lab_share``) or U07.2; reported 0-3 days
  after onset (never after the run's day); hospitalised with the pack's hospitalisation
  ratio, admitted on the report day; notified by the person's primary-care facility.

One numpy generator seeded from the run's seed: a seed gives the same rows. ``simulate``
and ``spread`` are pure.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

__all__ = ["simulate", "spread", "synthesize_epidemic"]


def simulate(
    rng: np.random.Generator, serial_interval: np.ndarray, r: float, days: int, seed_cases: int
) -> np.ndarray:
    """Daily cases of a renewal process: day 0 ``seed_cases``, then Poisson(R · Λ_t)."""
    w = np.asarray(serial_interval, dtype=float)
    cases = np.zeros(days, dtype=np.int64)
    if days == 0:
        return cases
    cases[0] = seed_cases
    for t in range(1, days):
        s = min(t, len(w) - 1)
        lam = float(np.dot(w[1 : s + 1], cases[t - 1 :: -1][:s])) if s else 0.0
        cases[t] = rng.poisson(max(r, 0.0) * lam)
    return cases


def spread(rng: np.random.Generator, cases: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """regions × days: each day's cases split over the regions by ``weights``."""
    p = np.asarray(weights, dtype=float)
    if p.sum() <= 0:
        raise ValueError("no population to spread cases over")
    p = p / p.sum()
    return np.stack([rng.multinomial(int(n), p) for n in cases], axis=1)


def synthesize_epidemic(
    ctx: Any,
    population: Any,
    *,
    r: float,
    days: int = 56,
    seed_cases: int = 10,
    lab_share: float = 0.7,
) -> dict[str, int]:
    """Case notifications of a synthetic epidemic ending on the run's day; returns the rows
    written per table."""
    from salomat.domains.epidemic.models import CaseNotification
    from salomat.domains.epidemic.service.rules import epidemic_pack

    ep = epidemic_pack(ctx.country)
    rng = np.random.default_rng(zlib.crc32(f"{ctx.seed}:epidemic".encode()))
    by_region: dict[int, list[int]] = {}
    for i in range(len(population)):
        if population.alive(i) and population.facility_id[i]:
            district = population.district_of.get(population.settlement_id[i])
            region = population.region_of.get(district) if district is not None else None
            if region is not None:
                by_region.setdefault(region, []).append(i)
    regions = sorted(by_region)
    if not regions:
        return {}
    national = simulate(rng, ep.serial_interval, r, days, seed_cases)
    grid = spread(rng, national, np.array([len(by_region[g]) for g in regions]))
    first = ctx.as_of - timedelta(days=days - 1)
    used: set[int] = set()
    ratio = ep.hospital.hospitalisation_ratio
    rows: list[tuple[Any, ...]] = []
    stamp = datetime.now(UTC)
    for gi, region in enumerate(regions):
        people = by_region[region]
        for t in range(days):
            onset: date = first + timedelta(days=t)
            for _ in range(int(grid[gi, t])):
                i = -1
                for _try in range(8):  # a person born by the onset, not drawn already
                    j = people[int(rng.integers(len(people)))]
                    if j not in used and population.birth[j] <= onset.toordinal():
                        i = j
                        break
                if i < 0:
                    continue
                used.add(i)
                report = min(onset + timedelta(days=int(rng.integers(0, 4))), ctx.as_of)
                lab = bool(rng.random() < lab_share)
                hosp = bool(rng.random() < ratio)
                rows.append(
                    (
                        ctx.country, population.person_id[i], "U07.1" if lab else "U07.2",
                        lab, onset, report,
                        population.district_of[population.settlement_id[i]], region, hosp,
                        report if hosp else None, population.facility_id[i], 0, stamp,
                    )
                )  # fmt: skip
    columns = [
        "country", "person_id", "icd10", "lab_confirmed", "onset_date", "report_date",
        "district_id", "region_id", "hospitalised", "admission_date", "reporting_facility_id",
        "reporter_user_id", "created_at",
    ]  # fmt: skip
    n = ctx.writer.write(CaseNotification.__table__, columns, rows)
    ctx.count("epidemic_notification", n)
    return {"epidemic_notification": n}
