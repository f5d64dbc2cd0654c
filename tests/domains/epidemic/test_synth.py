"""The synthetic epidemic (service/synth.py): the renewal process at a given R gives back
about that R through the Rt core (Cori), spreads cases over regions by population, and a
seed gives the same notifications; loaded by ``salomat synth`` with every notification
valid for the service's checks (onset <= report <= the run's day, onset after birth)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.epidemic.service.rt import estimate_rt
from salomat.domains.epidemic.service.rules import epidemic_pack
from salomat.domains.epidemic.service.synth import simulate, spread

SI = epidemic_pack("UZ").serial_interval


@pytest.mark.parametrize("r", [0.8, 1.3])
def test_rt_of_the_simulation_comes_back_near_r(r: float) -> None:
    rng = np.random.default_rng(4)
    cases = simulate(rng, SI, r, 60, 2000 if r < 1 else 50)
    series = estimate_rt(cases[np.newaxis, :].astype(float), SI, truncate_days=0)
    tail = series.mean[0, 30:]
    tail = tail[np.isfinite(tail)]
    assert tail.size > 10
    assert abs(float(np.median(tail)) - r) < 0.08


def test_the_same_seed_gives_the_same_cases() -> None:
    a = simulate(np.random.default_rng(7), SI, 1.2, 40, 10)
    b = simulate(np.random.default_rng(7), SI, 1.2, 40, 10)
    assert a.tolist() == b.tolist()
    assert a[0] == 10


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 500), min_size=1, max_size=20),
    st.lists(st.integers(0, 10_000), min_size=1, max_size=6).filter(lambda w: sum(w) > 0),
)
def test_spread_keeps_every_case_and_never_puts_one_where_nobody_lives(cases, weights) -> None:
    grid = spread(np.random.default_rng(1), np.array(cases), np.array(weights))
    assert grid.shape == (len(weights), len(cases))
    assert grid.sum(axis=0).tolist() == cases
    for k, w in enumerate(weights):
        if w == 0:
            assert grid[k].sum() == 0


def test_synth_loads_valid_notifications() -> None:
    from sqlalchemy import create_engine, text

    from salomat.core import synth
    from salomat.domains.epidemic.service.synth import synthesize_epidemic
    from salomat.domains.registry import service as registry
    from tests.synth_support import AS_OF, empty_database, sync_url

    class Silent:
        def start(self, label, total):  # type: ignore[no-untyped-def]
            return lambda n: None

    with empty_database() as url:
        with synth.run(
            url, country="UZ", people=1500, seed=3, as_of=AS_OF, progress=Silent()
        ) as ctx:
            population = registry.synthesize_population(ctx, 1500)
            counts = synthesize_epidemic(ctx, population, r=1.3, days=30, seed_cases=5)
        n = counts["epidemic_notification"]
        assert n > 5
        engine = create_engine(sync_url(url))
        with engine.connect() as c:
            bad = c.execute(
                text(
                    "SELECT count(*) FROM epidemic_notification e JOIN person p "
                    "ON p.id = e.person_id WHERE e.onset_date > e.report_date "
                    "OR e.report_date > :day OR e.onset_date < p.birth_date"
                ),
                {"day": AS_OF},
            ).scalar()
            total = c.execute(text("SELECT count(*) FROM epidemic_notification")).scalar()
            regions = c.execute(
                text("SELECT count(DISTINCT region_id) FROM epidemic_notification")
            ).scalar()
        engine.dispose()
        assert bad == 0
        assert total == n
        assert regions >= 1


# ---- beds and occupancy (service/synth.py "Beds", "Occupancy") -----------------------


def _in_bed_by_hand(n: int, days: int, hospital, admitted_on, stay) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The epidemic's patients in bed per hospital and day, one patient and day at a time."""
    out = np.zeros((n, days), dtype=np.int64)
    for h, a, s in zip(hospital, admitted_on, stay, strict=True):
        for t in range(a, min(a + s, days)):
            out[h, t] += 1
    return out


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 12), min_size=1, max_size=5),
    st.floats(0, 1),
    st.data(),
)
def test_ward_never_fills_more_than_the_beds_and_counts_every_patient(beds, share, data) -> None:
    from salomat.domains.epidemic.service.synth import ward

    days = data.draw(st.integers(1, 20))
    n = data.draw(st.integers(0, 60))
    hospital = data.draw(st.lists(st.integers(0, len(beds) - 1), min_size=n, max_size=n))
    admitted_on = data.draw(st.lists(st.integers(0, days - 1), min_size=n, max_size=n))
    stay = data.draw(st.lists(st.integers(0, 25), min_size=n, max_size=n))
    w = ward(np.random.default_rng(2), np.array(beds), share, hospital, admitted_on, stay, days)
    in_bed = _in_bed_by_hand(len(beds), days, hospital, admitted_on, stay)
    wanted = w.background[:, np.newaxis] + in_bed
    cap = np.array(beds)[:, np.newaxis]
    assert (w.occupied <= cap).all()
    assert (w.occupied == np.minimum(wanted, cap)).all()
    assert w.capped == int((wanted - w.occupied).sum())
    assert ((w.background >= 0) & (w.background <= np.array(beds))).all()
    # admitted and discharged are the epidemic's flows, whatever the cap
    assert int(w.admitted.sum()) == n
    leaving = sum(1 for a, s in zip(admitted_on, stay, strict=True) if a + s < days)
    assert int(w.discharged.sum()) == leaving


def test_ward_caps_at_the_beds_one_below_at_and_above() -> None:
    from salomat.domains.epidemic.service.synth import ward

    rng = np.random.default_rng(0)
    for patients, capped in ((2, 0), (3, 0), (4, 1)):  # 3 beds, no background
        w = ward(rng, np.array([3]), 0.0, [0] * patients, [0] * patients, [1] * patients, 1)
        assert w.occupied.tolist() == [[min(patients, 3)]]
        assert w.capped == capped


def test_background_occupancy_lies_within_binomial_bounds() -> None:
    from salomat.domains.epidemic.service.synth import ward

    beds = np.full(400, 50)
    share = 0.3
    w = ward(np.random.default_rng(11), beds, share, [], [], [], 3)
    total, mean = int(w.background.sum()), beds.sum() * share
    sd = float(np.sqrt(beds.sum() * share * (1 - share)))
    assert abs(total - mean) < 5 * sd
    assert (w.occupied == w.background[:, np.newaxis]).all()  # no epidemic: flat


@pytest.mark.parametrize(
    ("served", "rate", "beds"),
    [(0, 30, 0), (1, 30, 1), (10_000, 0, 0), (10_000, 30, 3), (11_666, 30, 3), (11_667, 30, 4)],
)
def test_hospital_beds_are_the_rate_of_the_people_served(served, rate, beds) -> None:
    from salomat.domains.epidemic.service.synth import hospital_beds

    assert hospital_beds(np.array([served]), rate).tolist() == [beds]


def _load(seed: int, url: str):  # type: ignore[no-untyped-def]
    from salomat.core import synth
    from salomat.domains.epidemic.service.synth import synthesize_epidemic
    from salomat.domains.registry import service as registry
    from tests.synth_support import AS_OF

    class Silent:
        def start(self, label, total):  # type: ignore[no-untyped-def]
            return lambda n: None

    with synth.run(url, country="UZ", people=3000, seed=seed, as_of=AS_OF, progress=Silent()) as c:
        population = registry.synthesize_population(c, 3000)
        counts = synthesize_epidemic(c, population, r=1.3, days=25, seed_cases=40)
    return population, counts


def _rows(url: str) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    from sqlalchemy import create_engine, text

    from tests.synth_support import sync_url

    engine = create_engine(sync_url(url))
    with engine.connect() as c:
        out = {
            "beds": c.execute(
                text(
                    "SELECT f.code, b.profile, b.beds, b.valid_from FROM epidemic_bed_capacity b "
                    "JOIN facility f ON f.id = b.facility_id ORDER BY 1, 2"
                )
            ).all(),
            "occupancy": c.execute(
                text(
                    "SELECT f.code, o.day, o.profile, o.occupied, o.admitted, o.discharged "
                    "FROM epidemic_occupancy o JOIN facility f ON f.id = o.facility_id "
                    "ORDER BY 1, 2, 3"
                )
            ).all(),
            "over": c.execute(
                text(
                    "SELECT count(*) FROM epidemic_occupancy o JOIN epidemic_bed_capacity b "
                    "ON b.facility_id = o.facility_id AND b.profile = o.profile "
                    "WHERE o.occupied > b.beds OR o.day < b.valid_from"
                )
            ).all(),
            "admitted_by_day": c.execute(
                text(
                    "SELECT day, sum(admitted) FROM epidemic_occupancy "
                    "WHERE profile IN ('infectious', 'icu') GROUP BY day ORDER BY day"
                )
            ).all(),
            "hospitalised_by_day": c.execute(
                text(
                    "SELECT admission_date, count(*) FROM epidemic_notification "
                    "WHERE hospitalised GROUP BY admission_date ORDER BY admission_date"
                )
            ).all(),
            "notifications": c.execute(
                text(
                    "SELECT count(*), sum(CASE WHEN hospitalised THEN 1 ELSE 0 END) "
                    "FROM epidemic_notification"
                )
            ).all(),
        }
    engine.dispose()
    return out


def test_synth_loads_beds_and_occupancy_that_hold_the_hospitalised_cases() -> None:
    from datetime import timedelta

    from salomat.domains.epidemic.service.rules import epidemic_pack, synthetic_beds
    from tests.synth_support import AS_OF, empty_database

    with empty_database() as url:
        population, counts = _load(5, url)
        got = _rows(url)
    sb = synthetic_beds("UZ")
    hospitals = [f for f in population.facilities if f.kind in sb.facility_kinds]
    profiles = {"infectious", "icu", "general"}
    assert len(got["beds"]) == len(hospitals) * 3 == counts["epidemic_bed_capacity"]
    assert {b[1] for b in got["beds"]} == profiles
    first = AS_OF - timedelta(days=24)
    assert {str(b[3]) for b in got["beds"]} == {str(first - timedelta(days=1))}  # before it
    assert len(got["occupancy"]) == len(hospitals) * 3 * 25 == counts["epidemic_occupancy"]
    assert got["over"] == [(0,)]  # occupancy <= beds every day, beds in force
    # every hospitalised case is admitted on its report day to an infectious or ICU bed
    assert counts["epidemic_admissions_unplaced"] == 0
    hosp = dict(got["hospitalised_by_day"])
    assert {d: n for d, n in got["admitted_by_day"] if n} == hosp
    # general beds hold only the background: no epidemic patient goes there
    assert all(o[4] == o[5] == 0 for o in got["occupancy"] if o[2] == "general")
    # the rates: beds within rounding of rate x people; hospitalised within binomial bounds
    living = sum(1 for i in range(len(population)) if population.alive(i))
    for profile in profiles:
        total = sum(b[2] for b in got["beds"] if b[1] == profile)
        expected = sb.per_100k[profile] * living / 100_000
        assert abs(total - expected) <= len(hospitals), (profile, total, expected)
    cases, hospitalised = got["notifications"][0]
    ratio = epidemic_pack("UZ").hospital.hospitalisation_ratio
    sd = float(np.sqrt(cases * ratio * (1 - ratio)))
    assert cases > 100
    assert abs(int(hospitalised) - cases * ratio) < 5 * sd + 1


def test_the_same_seed_gives_the_same_beds_and_occupancy() -> None:
    from tests.synth_support import empty_database

    with empty_database() as url:
        _, a_counts = _load(8, url)
        a = _rows(url)
    with empty_database() as url:
        _, b_counts = _load(8, url)
        b = _rows(url)
    assert a_counts == b_counts
    assert a["beds"] == b["beds"]
    assert a["occupancy"] == b["occupancy"]
