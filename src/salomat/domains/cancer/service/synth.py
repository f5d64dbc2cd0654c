"""Synthetic cancer registry: tumours, notifications and follow-up contacts (``salomat synth``).

Rates are the pack's ``synth`` section of ``cancer.yaml``:

- ``crude_rate``: new primary tumours a year per 100,000 person-years, over the five years
  before the run's day (``WINDOW_DAYS``). A person's chance is her person-years in the
  window (from birth or the window's first day to her death or the run's last day) times
  ``age_shape`` at her age in the middle of them, scaled so the expected total is the
  crude rate over all the person-years. One tumour a person (second primaries are the
  demo's and the tests').
- ``sites``: each one's share of all tumours. A site with ``sex:`` is drawn for that sex
  only, weighted up by the inverse of that sex's share of the (age-weighted)
  person-years, and each sex's rate by the sites open to it, so that every site's
  expected share of the whole is its ``share`` (cervix and breast make women's rate the
  higher one, as in Central Asia). A draw the IARC checks (``checks.check``) find
  invalid or rare for the person (age/site, sex/site, age/histology) is drawn again: the
  generated register holds only combinations the registrar would not be asked about.
- Deaths: the registry's synthetic deaths (the last 365 days only, ``population.yaml``)
  whose underlying cause is a cancer all reach the cancer registry, as the app's death
  registration makes them (``registry_events.on_death``). Of those, as many as
  ``dco_share`` of a year's expected tumours are death certificate only cases (basis 0,
  incidence on the day of death, ENCR level 6, one ``death_certificate`` notification);
  the others were diagnosed before, within the window, and the certificate joins their
  tumour as a second notification. Their tumours count towards the crude rate (fewer are
  drawn at random). A certificate the checks find invalid for the person waits for the
  registrar (``invalid_on_certificate``), a rare one leaves its tumour ``to_confirm``, as
  ``notifications.record_death_certificate`` does. Because the registry's deaths span
  one year, the DCO cases are in the last year only: its %DCO is the pack's, the
  earlier years have none.
- Basis of diagnosis of the other tumours: microscopically verified with probability
  ``microscopic_share / (1 - dco_share)`` (so that about ``microscopic_share`` of a
  year with deaths is; 7 histology of the primary, 5 cytology, 6 histology of a
  metastasis), else clinical investigation, clinical, or tumour markers (liver: AFP,
  prostate: PSA). A microscopic diagnosis is notified by the pathology laboratory (ENCR
  level 1), a clinical one by a clinician (level 2 admission or 3 outpatient).
  ``second_notification_share`` of them get a second report of the same tumour later (a
  discharge summary after a microscopic one, another clinician's after a clinical one),
  of a lower ENCR level, so the date of incidence stays the first's.
- ``staged_share`` of the solid tumours (not haematopoietic, not C80.9, not DCO) carry a
  TNM stage group (``stages``: shares of I-IV) with T, N and M that fit it.
- Follow-up: contacts by the pack's schedule (``follow_up``) from the date of incidence to
  the death or the run's day, a few days either side of the due day, each patient lost to
  follow-up after a contact with probability ``lost_share`` (she then stands overdue in
  the worklist); the next contact due by the same schedule. ``followed_by`` is the
  oncology centre of the person's region when the population has one, else empty.

Every tumour's codes, basis, date of incidence and multiple-primary reasons come from the
service's own rules (``icdo3``, ``incidence``, ``primaries``, ``checks``), so a tumour
rebuilt by ``notifications.refresh`` from its notifications is the same tumour. Rows are
written set-wise through the bulk writer (COPY on PostgreSQL), ids reserved up front; one
pass over the population, deterministic for a seed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text

from salomat.core.synth import SynthContext
from salomat.domains.cancer.models import CancerFollowUp, CancerNotification, CancerTumour
from salomat.domains.cancer.service import checks, icdo3, incidence, primaries
from salomat.domains.cancer.service.common import CancerRules, cancer_rules, next_follow_up
from salomat.domains.registry.schemas import SyntheticPopulation

__all__ = ["WINDOW_DAYS", "synthesize_cancer"]

#: the five years before the run's day in which tumours are diagnosed
WINDOW_DAYS = 5 * 365 + 1
YEAR_DAYS = 365.25
#: the registry's five-year age bands (0-4 ... 85+), as ``age_shape`` gives them
BANDS = 18
#: draws of a site before a person's tumour is given up (every draw rare or invalid)
SITE_DRAWS = 20
#: who the platform's own notifications are by (death certificates), as the service
SYSTEM = "registry"
_HOUR = time(4, tzinfo=UTC)

TUMOUR_COLUMNS = (
    "id", "person_id", "topography", "histology", "behaviour", "grade", "laterality",
    "icd10", "organ", "histology_group", "basis", "incidence_date", "incidence_level",
    "sex", "age", "settlement_id", "region_id", "tnm_edition", "tnm_t", "tnm_n", "tnm_m",
    "stage_group", "status", "pending_checks", "confirmations", "mp_reason",
    "vital_status", "death_date", "death_cause", "last_contact_on", "next_follow_up_on",
    "followed_by_facility_id", "created_at", "updated_at", "version",
)  # fmt: skip
NOTIFICATION_COLUMNS = (
    "id", "person_id", "source", "reported_on", "received_at", "reported_by", "facility_id",
    "topography", "histology", "behaviour", "grade", "laterality", "basis", "diagnosed_on",
    "date_level", "icd10", "tnm_edition", "tnm_t", "tnm_n", "tnm_m", "stage_group",
    "status", "tumour_id", "decision_reason", "decided_by", "decided_at", "rare_checks",
)  # fmt: skip
FOLLOW_UP_COLUMNS = (
    "id", "tumour_id", "person_id", "contact_on", "disease_status", "facility_id",
    "recorded_by", "recorded_at",
)  # fmt: skip

#: TNM categories that fit a stage group (a simplification across sites: T grows, then
#: N, then M; the stage group is what the statistics read)
_TNM = {
    "I": ("T1", "N0", "M0"),
    "II": ("T2", "N0", "M0"),
    "III": ("T3", "N1", "M0"),
    "IV": ("T4", "N1", "M1"),
}
_DEFAULT_STAGES = {"I": 20, "II": 30, "III": 30, "IV": 20}
#: sites a tumour marker may diagnose (AFP for the liver, PSA for the prostate)
_MARKER_SITES = frozenset({"C22", "C61"})


@dataclass(frozen=True)
class _Site:
    topography: str
    morphology: icdo3.Morphology
    sex: str | None
    share: float


@dataclass
class _Note:
    source: str
    basis: int
    diagnosed_on: date
    date_level: int
    topography: str
    morphology: icdo3.Morphology
    facility_id: int | None
    reported_by: str
    icd10: str | None = None
    stage: str | None = None


@dataclass
class _Tumour:
    index: int
    notes: list[_Note] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    death_on: date | None = None
    death_cause: str | None = None
    #: a certificate the checks refuse: kept for the registrar, no tumour
    refused: bool = False


def _weighted(rng: Any, options: list[tuple[Any, float]]) -> Any:
    r = rng.random() * sum(w for _, w in options)
    for value, w in options:
        r -= w
        if r <= 0:
            return value
    return options[-1][0]


def _sites(rules: CancerRules) -> list[_Site]:
    """The pack's sites, each checked: a valid code, and a sex-specific site marked so
    (a topography the IARC checks refuse for one sex must say ``sex:``)."""
    out = []
    adult, born = date(2020, 1, 1), date(1960, 1, 1)
    for raw in rules.synth["sites"]:
        topo = icdo3.topography(str(raw["topography"]))
        morph = icdo3.morphology(str(raw["morphology"]))
        sex = raw.get("sex")
        for other in ("male", "female"):
            if sex not in (None, other):
                continue
            found = checks.check(
                sex=other, birth_date=born, incidence_date=adult, death_date=None,
                topography=topo, morphology=morph, today=adult,
            )  # fmt: skip
            if checks.invalid(found):
                raise ValueError(
                    f"{rules.country}/cancer.yaml synth.sites: {topo} {morph.code} is invalid "
                    f"for a {other} patient: give it the sex it is drawn for"
                )
        out.append(_Site(topo, morph, sex, float(raw["share"])))
    return out


class _Generator:
    def __init__(self, ctx: SynthContext, rules: CancerRules, pop: SyntheticPopulation):
        self.ctx, self.rules, self.pop = ctx, rules, pop
        self.cfg = rules.synth
        self.rng = ctx.rng("cancer")
        self.today = ctx.as_of
        self.last = ctx.as_of - timedelta(days=1)
        self.first = ctx.as_of - timedelta(days=WINDOW_DAYS)
        self.sites = _sites(rules)
        self.shape = [float(x) for x in self.cfg["age_shape"]]
        if len(self.shape) != BANDS:
            raise ValueError(f"{ctx.country}/cancer.yaml synth.age_shape: {BANDS} bands needed")
        stages = self.cfg.get("stages") or _DEFAULT_STAGES
        self.stages = [(str(k), float(v)) for k, v in stages.items() if str(k) in _TNM]
        self.centre_of_region: dict[int, int] = {}
        for f in pop.facilities_of_kind("oncology_centre"):
            self.centre_of_region.setdefault(f.region_id, f.id)
        self.staff = {f.id: f.practitioners for f in pop.facilities if f.practitioners}
        self.by_sex: dict[str, list[tuple[_Site, float]]] = {}

    # ---- the person ----------------------------------------------------------------------

    def sex(self, i: int) -> str:
        return "female" if self.pop.sex[i] else "male"

    def birth(self, i: int) -> date:
        return date.fromordinal(self.pop.birth[i])

    def region(self, i: int) -> tuple[int | None, int | None]:
        settlement = self.pop.settlement_id[i] or None
        if settlement is None:
            return None, None
        district = self.pop.district_of.get(settlement)
        return settlement, self.pop.region_of.get(district) if district else None

    def reporter(self, facility_id: int | None) -> str:
        doctors = self.staff.get(facility_id or 0)
        if not doctors:
            return "synth"
        return f"synth-doctor-{doctors[self.rng.randrange(len(doctors))]}"

    def findings(self, i: int, on: date, topo: str, morph: icdo3.Morphology, death: date | None):
        return checks.check(
            sex=self.sex(i), birth_date=self.birth(i), incidence_date=on, death_date=death,
            topography=topo, morphology=morph, today=self.today,
        )  # fmt: skip

    # ---- what a tumour's reports say ---------------------------------------------------------

    def basis(self, site: str, morph: icdo3.Morphology) -> tuple[int, bool]:
        """A basis of diagnosis and whether it is microscopic."""
        rng = self.rng
        mv = float(self.cfg["microscopic_share"]) / max(1e-9, 1 - float(self.cfg["dco_share"]))
        unspecified = icdo3.histology_group(morph.histology) in icdo3.UNSPECIFIED_GROUPS
        if rng.random() < mv and not (unspecified and site != "C80"):
            if site == "C80":
                return (6 if rng.random() < 0.7 else 5), True
            u = rng.random()
            return (7 if u < 0.8 else 5 if u < 0.92 else 6), True
        u = rng.random()
        if site in _MARKER_SITES and u < 0.3:
            return 4, False
        return (2 if u < 0.75 else 1), False

    def first_note(self, i: int, on: date, topo: str, morph: icdo3.Morphology) -> _Note:
        basis, mv = self.basis(topo[:3], morph)
        polyclinic = self.pop.facility_id[i] or None
        _, region = self.region(i)
        if mv:
            where = self.centre_of_region.get(region or 0, polyclinic)
            return _Note("pathology", basis, on, 1, topo, morph, where, self.reporter(where))
        level = 2 if self.rng.random() < 0.3 else 3
        who = self.reporter(polyclinic)
        return _Note("clinician", basis, on, level, topo, morph, polyclinic, who)

    def second_note(self, first: _Note, until: date) -> _Note | None:
        """A later report of the same tumour, of a lower ENCR level (the date of incidence
        stays the first's), or None when there is no day left for it."""
        later = first.diagnosed_on + timedelta(days=self.rng.randint(3, 45))
        if later > until:
            return None
        if first.source == "pathology":
            source, level = "discharge", 2
        else:
            source, level = "clinician", 4
        return _Note(
            source, first.basis, later, max(level, first.date_level), first.topography,
            first.morphology, first.facility_id, first.reported_by,
        )  # fmt: skip

    def stage(self, site: str, morph: icdo3.Morphology) -> str | None:
        solid = icdo3.histology_group(morph.histology) not in icdo3.SYSTEMIC_GROUPS
        if not solid or site == "C80" or self.rng.random() >= float(self.cfg["staged_share"]):
            return None
        return str(_weighted(self.rng, self.stages))  # type: ignore[arg-type]


def _population_weights(g: _Generator) -> tuple[list[float], dict[str, float], float]:
    """Each person's age-weighted person-years in the window (0: none, or a duplicate
    record), the sum by sex, and the plain person-years."""
    p, shape = g.pop, g.shape
    first, last = g.first.toordinal(), g.last.toordinal()
    weights = [0.0] * len(p)
    by_sex = {"male": 0.0, "female": 0.0}
    years_total = 0.0
    for i in range(len(p)):
        if p.is_duplicate[i]:
            continue
        lo = max(first, p.birth[i])
        hi = min(last, p.deceased[i] - 1 if p.deceased[i] else last)
        if hi < lo:
            continue
        years = (hi - lo + 1) / YEAR_DAYS
        age = ((lo + hi) // 2 - p.birth[i]) / YEAR_DAYS
        w = years * shape[min(BANDS - 1, int(age // 5))]
        weights[i] = w
        by_sex["female" if p.sex[i] else "male"] += w
        years_total += years
    return weights, by_sex, years_total


def _site_weights(g: _Generator, by_sex: dict[str, float]) -> dict[str, float]:
    """Sites open to each sex with their weights, and each sex's relative rate."""
    total = sum(by_sex.values()) or 1.0
    rate = {}
    for sex, w in by_sex.items():
        lift = total / w if w else 0.0
        options = [(s, s.share * (lift if s.sex else 1.0)) for s in g.sites if s.sex in (None, sex)]
        g.by_sex[sex] = options
        rate[sex] = sum(x for _, x in options)
    return rate


def _deaths(g: _Generator) -> dict[int, tuple[date, str | None]]:
    """Person index -> (day of death, underlying cause) for the population's deaths."""
    query = text(
        "SELECT id, deceased_on, death_cause FROM person WHERE deceased_on IS NOT NULL ORDER BY id"
    )
    ids = g.pop.person_id
    out: dict[int, tuple[date, str | None]] = {}
    with g.ctx.writer.engine.connect() as conn:
        for pid, day, cause in conn.execute(query):
            k = bisect.bisect_left(ids, pid)
            if k == len(ids) or ids[k] != pid:
                continue
            day = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
            out[k] = (day, cause)
    return out


def _death_tumour(g: _Generator, i: int, died: date, cause: str, dco: bool) -> _Tumour | None:
    """A cancer death: a DCO case, or a tumour diagnosed earlier with the certificate as
    its second notification; the certificate alone, waiting, when the checks refuse it."""
    parsed = icdo3.from_icd10(cause)
    if parsed is None:
        return None
    cert_topo, cert_morph = parsed
    cert = _Note("death_certificate", 0, died, 6, cert_topo, cert_morph, None, SYSTEM, icd10=cause)
    t = _Tumour(i, death_on=died, death_cause=cause)
    found = g.findings(i, died, cert_topo, cert_morph, died)
    if checks.invalid(found):
        t.notes, t.refused = [cert], True
        return t
    if dco:
        t.notes = [cert]
        t.pending = sorted({f.rule for f in checks.rare(found)})
        return t
    sex = g.sex(i)
    known = [s for s in g.sites if s.topography[:3] == cert_topo[:3] and s.sex in (None, sex)]
    topo, morph = (known[0].topography, known[0].morphology) if known else (cert_topo, cert_morph)
    earliest = max(g.first, g.birth(i))
    on = died - timedelta(days=g.rng.randint(30, 3 * 365))
    on = min(died, max(earliest, on))
    found = g.findings(i, on, topo, morph, died)
    if checks.invalid(found):
        topo, morph, found = cert_topo, cert_morph, g.findings(i, on, cert_topo, cert_morph, died)
    first = g.first_note(i, on, topo, morph)
    first.stage = g.stage(topo[:3], morph)
    t.notes = [first, cert]
    t.pending = sorted({f.rule for f in checks.rare(found)})
    return t


def _random_tumour(g: _Generator, i: int, death: date | None) -> _Tumour | None:
    rng, p = g.rng, g.pop
    lo = max(g.first.toordinal(), p.birth[i])
    hi = min(g.last.toordinal(), death.toordinal() if death else g.last.toordinal())
    on = date.fromordinal(rng.randint(lo, hi))
    options = g.by_sex[g.sex(i)]
    for _ in range(SITE_DRAWS):
        site: _Site = _weighted(rng, options)
        if not g.findings(i, on, site.topography, site.morphology, death):
            break
    else:
        return None
    first = g.first_note(i, on, site.topography, site.morphology)
    first.stage = g.stage(site.topography[:3], site.morphology)
    t = _Tumour(i, [first], death_on=death)
    # a second report of a tumour of unknown primary site waits for the registrar
    # (primaries.decide): the generated register leaves that to the demo
    known_site = site.topography != primaries.UNKNOWN_PRIMARY
    if known_site and rng.random() < float(g.cfg.get("second_notification_share", 0.3)):
        second = g.second_note(first, min(g.last, death or g.last))
        if second is not None:
            t.notes.append(second)
    return t


def synthesize_cancer(ctx: SynthContext, population: SyntheticPopulation) -> dict[str, int]:
    """Write tumours, their notifications and follow-up contacts (see the module's text)."""
    rules = cancer_rules(ctx.country)
    if not rules.synth:
        raise ValueError(f"{ctx.country}/cancer.yaml has no synth section")
    g = _Generator(ctx, rules, population)
    task = ctx.progress.start("cancer", len(population))
    weights, by_sex, years = _population_weights(g)
    rate = _site_weights(g, by_sex)
    expected = float(g.cfg["crude_rate"]) * years / 100_000
    deaths = _deaths(g)

    tumours: list[_Tumour] = []
    cancer_deaths = sorted(
        i
        for i, (day, cause) in deaths.items()
        if cause
        and icdo3.is_cancer_cause(cause)
        and not population.is_duplicate[i]
        and g.first <= day <= g.last
    )
    dco_target = round(float(g.cfg["dco_share"]) * expected * 365 / WINDOW_DAYS)
    dco = set(g.rng.sample(cancer_deaths, min(dco_target, len(cancer_deaths))))
    taken = set()
    for i in cancer_deaths:
        day, cause = deaths[i]
        assert cause is not None
        t = _death_tumour(g, i, day, cause, i in dco)
        if t is not None:
            tumours.append(t)
            taken.add(i)

    remaining = max(0.0, expected - sum(1 for t in tumours if not t.refused))
    scale = sum(w * rate["female" if population.sex[i] else "male"] for i, w in enumerate(weights))
    factor = remaining / scale if scale else 0.0
    rng = g.rng
    for i, w in enumerate(weights):
        if not w or i in taken:
            continue
        sex = "female" if population.sex[i] else "male"
        if rng.random() < w * rate[sex] * factor:
            died = deaths.get(i)
            t = _random_tumour(g, i, died[0] if died else None)
            if t is not None:
                t.death_cause = died[1] if died else None
                tumours.append(t)
    task(len(population))
    return _write(g, tumours)


# ---- rows ------------------------------------------------------------------------------------


def _at(day: date, minutes: int) -> datetime:
    return datetime.combine(day, _HOUR) + timedelta(minutes=minutes)


def _write(g: _Generator, tumours: list[_Tumour]) -> dict[str, int]:
    w, rng, rules = g.ctx.writer, g.rng, g.rules
    t_table, n_table = CancerTumour.__table__, CancerNotification.__table__
    f_table = CancerFollowUp.__table__
    kept = [t for t in tumours if not t.refused]
    next_tumour = w.next_id(t_table, len(kept))  # type: ignore[arg-type]
    next_note = w.next_id(n_table, sum(len(t.notes) for t in tumours))  # type: ignore[arg-type]
    t_rows: list[tuple[Any, ...]] = []
    n_rows: list[tuple[Any, ...]] = []
    f_rows: list[tuple[Any, ...]] = []
    lost = float(g.cfg.get("lost_share", 0.03))
    window = max(1, rules.notify_within_days * 2)
    for t in tumours:
        i = t.index
        pid = g.pop.person_id[i]
        received = []
        for n in t.notes:
            reported = min(g.last, n.diagnosed_on + timedelta(days=rng.randrange(window)))
            received.append(_at(reported, rng.randrange(600)))
        if t.refused:
            (n,) = t.notes
            n_rows.append(
                _note_row(next_note, pid, n, rules.tnm_edition, t.pending, received[0],
                          "to_review", None, "invalid_on_certificate", None, None)
            )  # fmt: skip
            next_note += 1
            continue
        tid = next_tumour
        next_tumour += 1
        # the tumour's codes: the first report's (every later one repeats them or is the
        # certificate's unspecified 8000/3, which never ranks first)
        first = t.notes[0]
        morph = first.morphology
        keys: list[primaries.TumourKey] = []
        for k, n in enumerate(t.notes):
            new = primaries.TumourKey(None, n.topography, n.morphology.histology)
            decision = primaries.decide(keys, new)
            keys = keys or [primaries.TumourKey(tid, first.topography, morph.histology)]
            joined = not decision.needs_registrar
            n_rows.append(
                _note_row(
                    next_note, pid, n, rules.tnm_edition, t.pending, received[k],
                    "consolidated" if joined else "to_review", tid if joined else None,
                    decision.reason, "rules" if joined else None, received[k] if joined else None,
                )
            )  # fmt: skip
            next_note += 1
        on, level = incidence.incidence((n.date_level, n.diagnosed_on) for n in t.notes)
        basis = incidence.best_basis(n.basis for n in t.notes)
        settlement, region = g.region(i)
        dead = t.death_on is not None
        end = t.death_on if dead else g.last
        assert end is not None
        contacts = [n.diagnosed_on for n in t.notes if n.source != "death_certificate"]
        last = max([on, *contacts])
        followed = g.centre_of_region.get(region or 0) if basis != 0 else None
        stage = next((n.stage for n in t.notes if n.stage), None)
        if basis != 0:
            while True:
                due = next_follow_up(on, last, rules)
                if due > end or rng.random() < lost:
                    break
                contact = due + timedelta(days=rng.randint(-7, 21))
                if contact > end:
                    break
                contact = max(contact, last + timedelta(days=1))
                status = _disease_status(rng, stage)
                where = followed or g.pop.facility_id[i] or None
                f_rows.append((None, tid, pid, contact, status, where, g.reporter(where),
                               _at(contact, rng.randrange(600))))  # fmt: skip
                last = contact
        tnm = _TNM.get(stage) if stage else None
        created, updated = received[0], max(received)
        t_rows.append((
            tid, pid, first.topography, morph.histology, morph.behaviour, None, None,
            icdo3.icd10_of(first.topography, morph), icdo3.organ(first.topography),
            icdo3.histology_group(morph.histology), basis, on, level, g.sex(i),
            checks.age_at(g.birth(i), on), settlement, region,
            rules.tnm_edition if tnm else None, *(tnm or (None, None, None)), stage,
            "to_confirm" if t.pending else "registered", t.pending, [], "first_tumour",
            "dead" if dead else "alive", t.death_on, t.death_cause, last,
            None if dead else next_follow_up(on, last, rules), followed, created, updated, 1,
        ))  # fmt: skip
    first_follow = w.next_id(f_table, len(f_rows))  # type: ignore[arg-type]
    f_rows = [(first_follow + k, *row[1:]) for k, row in enumerate(f_rows)]
    written = {}
    for table, columns, rows in (
        (t_table, TUMOUR_COLUMNS, t_rows),
        (n_table, NOTIFICATION_COLUMNS, n_rows),
        (f_table, FOLLOW_UP_COLUMNS, f_rows),
    ):
        n = w.write(table, columns, rows) if rows else 0  # type: ignore[arg-type]
        g.ctx.count(table.name, n)
        written[table.name] = n
    return written


def _note_row(
    nid: int,
    pid: int,
    n: _Note,
    edition: str,
    rare: list[str],
    received: datetime,
    status: str,
    tumour_id: int | None,
    reason: str | None,
    decided_by: str | None,
    decided_at: datetime | None,
) -> tuple[Any, ...]:
    tnm = _TNM.get(n.stage) if n.stage else None
    return (
        nid, pid, n.source, received.date(), received, n.reported_by, n.facility_id,
        n.topography, n.morphology.histology, n.morphology.behaviour, None, None, n.basis,
        n.diagnosed_on, n.date_level, n.icd10, edition if tnm else None,
        *(tnm or (None, None, None)), n.stage, status, tumour_id, reason, decided_by,
        decided_at, rare,
    )  # fmt: skip


def _disease_status(rng: Any, stage: str | None) -> str:
    u = rng.random()
    if stage in ("III", "IV"):
        return "with_disease" if u < 0.5 else "no_evidence" if u < 0.9 else "unknown"
    return "no_evidence" if u < 0.85 else "with_disease" if u < 0.95 else "unknown"
