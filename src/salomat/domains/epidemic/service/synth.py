"""A synthetic epidemic for ``salomat synth --epidemic-r R`` (docs/epidemic.md "Synthetic
epidemic"): case notifications drawn from a renewal process with the pack's serial
interval at a given R, spread over the regions by their synthetic population.

- **Cases.** Day 0 has ``seed_cases`` (10 per 100 000 people, at least 10); then
  I_t ~ Poisson(R · Λ_t), Λ_t = Σ_{s≥1} w_s I_{t−s} (the pack's serial interval w) — the
  process ``rt.estimate_rt`` inverts, so Rt estimated on the result comes back near R
  (tested).
- **Where.** Each day's cases are split over the regions by a multinomial weighted by the
  living synthetic people of each region; each case is a living person of that region
  born by the onset, drawn without replacement.
- **What.** ICD-10 U07.1 (laboratory-confirmed, ``lab_share``) or U07.2; reported 0-3 days
  after onset (never after the run's day); hospitalised with the pack's hospitalisation
  ratio, admitted on the report day; notified by the person's primary-care facility.
- **Beds.** Each hospital of the pack's ``synthetic_beds.facility_kinds`` registers beds of
  every bed profile from the day before the epidemic: round(rate per 100 000 × the living
  people of its district ÷ its district's hospitals), at least one where the rate is not 0
  (``hospital_beds``; rates illustrative, in the pack).
- **Occupancy.** Every day of the epidemic, each hospital and profile: a background of
  patients other than the epidemic's, drawn once ~ Binomial(beds, the pack's share), plus
  the epidemic's patients in bed that day; never above the beds (the excess is left out
  and counted: ``epidemic_occupancy_capped``, patient-days). Each hospitalised case is
  admitted on its report day to a hospital of its district (else of its region), to
  intensive care with the pack's ``hospital.icu_share``, and stays L days drawn from the
  pack's length of stay (``los``, ``icu_los``): in bed on days t .. t+L−1 and discharged on
  t+L, the convention of the bed forecast (``forecast.project_beds``). ``admitted`` and
  ``discharged`` are the epidemic's patients (``ward``).

One numpy generator seeded from the run's seed for the cases and another for the beds
(adding beds left the notifications as they were): a seed gives the same rows.
``simulate``, ``spread``, ``hospital_beds`` and ``ward`` are pure.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

__all__ = ["Ward", "hospital_beds", "simulate", "spread", "synthesize_epidemic", "ward"]

#: the profiles the epidemic's patients take (the situation reads these two)
WARD, ICU = "infectious", "icu"


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


def hospital_beds(served: np.ndarray, per_100k: float) -> np.ndarray:
    """Beds of one profile per hospital: round(``per_100k`` × people served ÷ 100 000), at
    least one at a hospital serving anyone (none where the rate is 0)."""
    served = np.asarray(served, dtype=float)
    beds = np.rint(served * per_100k / 100_000).astype(np.int64)
    return np.where((served > 0) & (per_100k > 0), np.maximum(beds, 1), 0)


@dataclass(frozen=True, eq=False)
class Ward:
    """One profile's beds over the days, hospitals × days (``occupied`` never above beds)."""

    occupied: np.ndarray
    admitted: np.ndarray
    discharged: np.ndarray
    #: the patients other than the epidemic's, per hospital (constant over the days)
    background: np.ndarray
    #: patient-days above the beds, left out of ``occupied``
    capped: int


def ward(
    rng: np.random.Generator,
    beds: np.ndarray,
    background_share: float,
    hospital: np.ndarray,
    admitted_on: np.ndarray,
    stay: np.ndarray,
    days: int,
) -> Ward:
    """Occupied beds of one profile: Binomial(beds, ``background_share``) other patients per
    hospital, plus each admission ``k`` (hospital ``hospital[k]``, day ``admitted_on[k]``) in
    bed on days admitted_on .. admitted_on + stay − 1, capped at the beds."""
    beds = np.asarray(beds, dtype=np.int64)
    n = len(beds)
    background = rng.binomial(beds, background_share).astype(np.int64)
    hospital = np.asarray(hospital, dtype=np.int64)
    start = np.asarray(admitted_on, dtype=np.int64)
    end = start + np.asarray(stay, dtype=np.int64)
    admitted = np.zeros((n, days), dtype=np.int64)
    np.add.at(admitted, (hospital, start), 1)
    discharged = np.zeros((n, days + 1), dtype=np.int64)
    np.add.at(discharged, (hospital, np.minimum(end, days)), 1)
    discharged = discharged[:, :days]
    inside = np.cumsum(admitted - discharged, axis=1)
    raw = background[:, np.newaxis] + inside
    occupied = np.minimum(raw, beds[:, np.newaxis])
    return Ward(
        occupied=occupied,
        admitted=admitted,
        discharged=discharged,
        background=background,
        capped=int((raw - occupied).sum()),
    )


def synthesize_epidemic(
    ctx: Any,
    population: Any,
    *,
    r: float,
    days: int = 56,
    seed_cases: int | None = None,
    lab_share: float = 0.7,
) -> dict[str, int]:
    """Case notifications of a synthetic epidemic ending on the run's day, and the
    hospitals' beds and occupancy; returns the rows written per table. ``seed_cases``:
    day 0's cases, by default 10 per 100 000 living people (at least 10), so that the
    epidemic is as large for the population at any size."""
    from salomat.domains.epidemic.models import CaseNotification
    from salomat.domains.epidemic.service.rules import epidemic_pack

    ep = epidemic_pack(ctx.country)
    rng = np.random.default_rng(zlib.crc32(f"{ctx.seed}:epidemic".encode()))
    by_region: dict[int, list[int]] = {}
    by_district: dict[int, int] = {}
    for i in range(len(population)):
        if population.alive(i):
            district = population.district_of.get(population.settlement_id[i])
            if district is not None:
                by_district[district] = by_district.get(district, 0) + 1
            region = population.region_of.get(district) if district is not None else None
            if region is not None and population.facility_id[i]:
                by_region.setdefault(region, []).append(i)
    regions = sorted(by_region)
    if not regions:
        return {}
    if seed_cases is None:
        seed_cases = max(10, round(10 * sum(by_district.values()) / 100_000))
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
    admissions = [(r[6], r[7], (r[9] - first).days) for r in rows if r[8]]
    beds = _beds(ctx, population, by_district, admissions, first, days)
    return {"epidemic_notification": n, **beds}


def _beds(
    ctx: Any,
    population: Any,
    served_in: dict[int, int],
    admissions: list[tuple[int, int, int]],
    first: date,
    days: int,
) -> dict[str, int]:
    """Beds and daily occupancy of the synthetic hospitals (the module's words);
    ``admissions``: (district, region, day index) of each hospitalised case."""
    from salomat.domains.epidemic.models import BedCapacity, OccupancyReport
    from salomat.domains.epidemic.service.rules import bed_profiles, epidemic_pack, synthetic_beds

    sb = synthetic_beds(ctx.country)
    hp = epidemic_pack(ctx.country).hospital
    hospitals = [f for f in population.facilities if f.kind in sb.facility_kinds]
    if not hospitals:
        return {}
    rng = np.random.default_rng(zlib.crc32(f"{ctx.seed}:epidemic-beds".encode()))
    in_district: dict[int, list[int]] = {}
    in_region: dict[int, list[int]] = {}
    for k, f in enumerate(hospitals):
        in_district.setdefault(f.district_id, []).append(k)
        in_region.setdefault(f.region_id, []).append(k)
    served = np.array(
        [served_in.get(f.district_id, 0) / len(in_district[f.district_id]) for f in hospitals]
    )
    # each hospitalised case: a hospital of its district (else its region), ICU or not, a stay
    placed = [
        (int(rng.choice(where)), day)
        for district, region, day in admissions
        if (where := in_district.get(district) or in_region.get(region))
    ]
    icu = rng.random(len(placed)) < hp.icu_share
    stays = {
        WARD: rng.choice(len(hp.los), size=int((~icu).sum()), p=hp.los),
        ICU: rng.choice(len(hp.icu_los), size=int(icu.sum()), p=hp.icu_los),
    }
    at = np.array([h for h, _ in placed], dtype=np.int64)
    on = np.array([d for _, d in placed], dtype=np.int64)
    chosen = {WARD: ~icu, ICU: icu}
    valid_from = first - timedelta(days=1)
    bed_rows: list[tuple[Any, ...]] = []
    occ_rows: list[tuple[Any, ...]] = []
    capped = 0
    stamp = datetime.now(UTC)
    for profile in (p.code for p in bed_profiles(ctx.country)):
        beds = hospital_beds(served, sb.per_100k[profile])
        mask = chosen.get(profile)
        empty = np.zeros(0, dtype=np.int64)
        w = ward(
            rng,
            beds,
            sb.background_occupancy[profile],
            at[mask] if mask is not None else empty,
            on[mask] if mask is not None else empty,
            stays.get(profile, empty),
            days,
        )
        capped += w.capped
        for k, f in enumerate(hospitals):
            bed_rows.append((ctx.country, f.id, profile, int(beds[k]), valid_from))
            for t in range(days):
                occ_rows.append(
                    (
                        ctx.country, f.id, first + timedelta(days=t), profile,
                        int(w.occupied[k, t]), int(w.admitted[k, t]), int(w.discharged[k, t]),
                        0, stamp,
                    )
                )  # fmt: skip
    nb = ctx.writer.write(
        BedCapacity.__table__, ["country", "facility_id", "profile", "beds", "valid_from"], bed_rows
    )
    no = ctx.writer.write(
        OccupancyReport.__table__,
        ["country", "facility_id", "day", "profile", "occupied", "admitted", "discharged",
         "reporter_user_id", "reported_at"],
        occ_rows,
    )  # fmt: skip
    ctx.count("epidemic_bed_capacity", nb)
    ctx.count("epidemic_occupancy", no)
    ctx.count("epidemic_occupancy_capped", capped)
    return {
        "epidemic_bed_capacity": nb,
        "epidemic_occupancy": no,
        "epidemic_occupancy_capped": capped,
        "epidemic_admissions_unplaced": len(admissions) - len(placed),
    }
