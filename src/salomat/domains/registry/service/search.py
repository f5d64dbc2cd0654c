"""Finding people: by national id, or by name in either script with spelling slips.

Names are compared through their skeletons (``country.names.skeleton``), so
the script and the usual variants do not matter. The database narrows the
field with a trigram index on the skeletons (``pg_trgm`` GIN on PostgreSQL, an
FTS5 trigram table on SQLite, both created by migration 0002); rapidfuzz
then scores the few hundred rows left, and the scope filter and the audit see
only those.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Select, column, or_, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.pagination import Page, PageParams
from salomat.core.security import Principal
from salomat.country import names
from salomat.domains.registry.models import Facility, Person
from salomat.domains.registry.schemas import PersonOut, PersonQuery
from salomat.domains.registry.service.people import (
    audit_listing,
    people_with_codes,
    person_out,
    visible_ids,
)

__all__ = [
    "PREFIX_MIN",
    "name_matches",
    "name_similarity",
    "people_by_name",
    "person_ids_by_name_part",
    "prefix_forms",
    "search_persons",
    "search_persons_among",
    "swapped_day_month",
]

#: rows the index hands to the scorer; the best of them are shown
_POOL = 300
#: matches of a selective step read (unranked) and scored in Python
_CAP = 3000
#: a step that found this many stops the widening: a full page of closer matches
_ENOUGH = 20
#: a token scores at least this (0-100) against some token of the name to count
_MIN_TOKEN_SCORE = 75
#: the fewest letters (of the skeleton) that match as the beginning of a name: two
#: letters ("Ka") would list a good part of the registry, and trigram indexes need three
PREFIX_MIN = 3


def swapped_day_month(d: date) -> date | None:
    """12.08 read as 08.12: the commonest slip in a birth date. None when impossible."""
    if d.day == d.month or d.day > 12:
        return None
    try:
        return d.replace(month=d.day, day=d.month)
    except ValueError:
        return None


#: Latin digraphs the skeleton folds to one letter (kh -> h, dj -> j, ya -> a): a word
#: typed up to the middle of one ("Mak" of Makhmudov) is also read as if it went on.
#: Not ts, ia, iu, io: "Kat" would find Kasimov and "Kari" Karaev
_DIGRAPHS = ("kh", "ch", "zh", "dj", "dzh", "yo", "yu", "ya", "ye")
#: a word ending in the first letter of ts is also read without it ("Kuznet": "kuzne")


def prefix_forms(word: str) -> tuple[str, ...]:
    """The skeletons a typed word may be the beginning of: as typed first, then the
    readings where its last letters begin a digraph. Only whole words typed in Latin
    can end inside a digraph; a Cyrillic letter is one letter of the skeleton."""
    typed = names.skeleton(word)
    low = word.lower()
    forms = [typed]
    if len(typed) < PREFIX_MIN:
        return tuple(forms)
    for d in _DIGRAPHS:
        for cut in range(1, len(d)):
            if low.endswith(d[:cut]):
                form = names.skeleton(word[: len(word) - cut] + d)
                if form and form not in forms:
                    forms.append(form)
    if low.endswith("t"):
        form = names.skeleton(word[:-1])
        if len(form) >= PREFIX_MIN and form not in forms:
            forms.append(form)
    return tuple(forms)


def _terms(*parts: str | None) -> list[tuple[str, ...]]:
    """What a search typed: each word's skeleton and the forms it may be a prefix of."""
    return [f for p in parts if p for f in (prefix_forms(w) for w in p.split()) if f[0]]


def _prefix_score(forms: tuple[str, ...], stored: str) -> float:
    """0-100: ``stored`` begins with one of the forms (at least ``PREFIX_MIN`` letters).

    Below an exact match (100) and above a whole name with one slip, so that
    "Karimov" lists Karimov before Karimova, and "Kari" lists both.
    """
    best = 0.0
    for i, form in enumerate(forms):
        if len(form) >= PREFIX_MIN and len(form) < len(stored) and stored.startswith(form):
            # a reading through a digraph ranks just below the word as typed
            best = max(best, 90.0 + 10.0 * len(form) / len(stored) - (0.01 if i == 0 else 1.0))
    return best


def _term_score(forms: tuple[str, ...], have: list[str], prefix: bool) -> float:
    best = max(fuzz.ratio(forms[0], h) for h in have)
    if prefix:
        best = max(best, *(_prefix_score(forms, h) for h in have))
    return best


class _Scorer:
    """``name_similarity(terms, key, prefix=True)`` for the many keys of a pool.

    A block of namesakes repeats a few hundred family and given names, so each
    distinct stored token is scored against each term once (a dictionary per
    term) and a key costs a split and a few lookups: the same numbers, summed in
    the same order, as ``name_similarity`` gives.
    """

    __slots__ = ("_seen", "terms")

    def __init__(self, terms: list[tuple[str, ...]]) -> None:
        self.terms = terms
        self._seen: list[dict[str, float]] = [{} for _ in terms]

    def __call__(self, key: str) -> float:
        have = key.split()
        if not self.terms or not have:
            return 0.0
        total = 0.0
        for forms, seen in zip(self.terms, self._seen, strict=True):
            best = 0.0
            for h in have:
                score = seen.get(h)
                if score is None:
                    score = seen[h] = max(fuzz.ratio(forms[0], h), _prefix_score(forms, h))
                if score > best:
                    best = score
            if best < _MIN_TOKEN_SCORE:
                return 0.0
            total += best
        return total / (100.0 * len(self.terms))


def name_similarity(
    query: list[str] | list[tuple[str, ...]], key: str, *, prefix: bool = False
) -> float:
    """0-1: how well every query token matches some token of a stored name key.

    With ``prefix`` (a search, not a duplicate check) a token also matches the
    names it begins: "kari" matches "karimova". A token is a skeleton or the
    tuple ``prefix_forms`` gives (the first is scored as typed).
    """
    have = key.split()
    if not query or not have:
        return 0.0
    total = 0.0
    for q in query:
        forms = (q,) if isinstance(q, str) else q
        best = _term_score(forms, have, prefix)
        if best < _MIN_TOKEN_SCORE:
            return 0.0
        total += best
    return total / (100.0 * len(query))


def _grams(token: str) -> list[str]:
    return [token[i : i + 3] for i in range(len(token) - 2)]


def _fts_query(tokens: list[str], *, all_of: bool) -> str | None:
    grams = list(dict.fromkeys(g for t in tokens for g in _grams(t)))
    if not grams:
        return None
    return (" AND " if all_of else " OR ").join(f'"{g}"' for g in grams)


def _fts_terms(terms: list[tuple[str, ...]]) -> str | None:
    """Every term as typed or as the beginning of one of its forms (all trigrams of one).

    A term whose typed form is too short for a trigram constrains nothing, as before.
    """
    groups = []
    for forms in terms:
        alts = [_fts_query([forms[0]], all_of=True)]
        if alts[0] is None:
            continue
        alts += [_fts_query([f], all_of=True) for f in forms[1:] if len(f) >= PREFIX_MIN]
        groups.append("(" + " OR ".join(f"({a})" for a in alts if a) + ")")
    return " AND ".join(groups) or None


def _halves(token: str) -> list[str]:
    """A slip (a letter wrong, missing or extra, or two letters swapped) leaves one
    half of a word intact: the first ``k`` letters or all after the next one (``k``
    half the length; the letter between keeps a swap across the middle from
    breaking both). Each half is a trigram or more from seven letters on; shorter
    words give none (no trigram is sure to survive a slip in them)."""
    k = len(token) // 2
    if len(token) < 7:
        return []
    return [token[:k], token[k + 1 :]]


def _slip_pieces(token: str) -> tuple[str, str]:
    """(head, tail): a slip in ``token`` (a letter wrong, missing or extra, or two
    letters swapped) leaves a word beginning with the head or containing the tail.

    For any ``h``, the first ``h`` letters and all after the next one: a slip that
    touches no letter before ``h`` leaves the head, one that does (a swap across
    ``h`` included) the tail. ``h`` is half the length less one, so the tail has
    three letters (a trigram) from six letters on, and the head, as the beginning
    of a word, is read by the trigrams of a word's start however short it is.
    """
    h = len(token) // 2 - 1
    return token[:h], token[h + 1 :]


def _one_slip_regex(token: str) -> str:
    """A word beginning with ``token`` with one slip (a letter wrong, missing or extra,
    or two letters swapped), as a regular expression on a name key. Skeletons are
    ``[a-z]``: nothing to escape."""
    n = len(token)
    alts = {token[:p] + "." + token[p + 1 :] for p in range(n)}
    alts |= {token[:p] + token[p + 1 :] for p in range(n)}
    alts |= {token[:p] + "." + token[p:] for p in range(n + 1)}
    alts |= {token[:p] + token[p + 1] + token[p] + token[p + 2 :] for p in range(n - 1)}
    return "(^| )(" + "|".join(sorted(a for a in alts if a)) + ")"


def _one_slip_fts_query(tokens: list[str]) -> str | None:
    """Every token but one intact, the other with its first or its second half intact
    (a short one, with no half sure to survive, left to the others)."""
    if len(tokens) < 2:
        return None
    alternatives = []
    for i, slipped in enumerate(tokens):
        intact = _fts_query(tokens[:i] + tokens[i + 1 :], all_of=True)
        if not intact:
            continue
        halves = [_fts_query([h], all_of=True) for h in _halves(slipped)]
        loose = " OR ".join(f"({h})" for h in halves if h)
        alternatives.append(f"({intact} AND ({loose}))" if loose else f"({intact})")
    return " OR ".join(alternatives) or None


_FTS = table("search_person", column("rowid"), column("rank"))


#: (id, name key, family name): what a step reads of each match, all the ranking needs
Row = tuple[int, str, str]


def _best(score: _Scorer, rows: list[Row]) -> list[Row]:
    """The ``_POOL`` rows whose keys score best, best first (by id among equals)."""
    scored = sorted(((-score(r[1]), r[0], r) for r in rows), key=lambda x: (x[0], x[1]))
    return [r for _, _, r in scored[:_POOL]]


def _add(pool: list[Row], seen: set[int], rows: list[Row]) -> None:
    for r in rows:
        if r[0] not in seen:
            seen.add(r[0])
            pool.append(r)


def _rows(result: Iterable[Any]) -> list[Row]:
    return [(int(r[0]), r[1], r[2]) for r in result]


async def _pool_sqlite(
    session: AsyncSession, score: _Scorer, where: Select[tuple[int]]
) -> list[Row]:
    """Three widening FTS5 queries, each only when the narrower found too few.

    1. every trigram (the names as typed, in any script); 2. every trigram of
    all tokens but one, and any trigram of that one (a slip in one name);
    3. any trigram, best ranked by bm25 (only when nothing else matched).
    The first two are selective, so their matches are fetched unranked (up
    to ``_CAP``) and ranked here by the same score the results are sorted
    by: ordering by bm25 inside FTS5 costs far more than the matching. A
    trigram query matches inside words, so the first step also finds the
    names a token begins.
    """
    terms = score.terms
    tokens = [forms[0] for forms in terms]
    pool: list[Row] = []
    seen: set[int] = set()
    keyed = where.add_columns(Person.name_key, Person.family_name).join(
        _FTS, _FTS.c.rowid == Person.id
    )
    for match in (_fts_terms(terms), _one_slip_fts_query(tokens)):
        if match is None:
            continue
        stmt = keyed.where(text("search_person MATCH :m")).limit(_CAP)
        _add(pool, seen, _best(score, _rows(await session.execute(stmt, {"m": match}))))
        if len(pool) >= _ENOUGH:
            return pool[:_POOL]
    if pool:
        return pool
    match = _fts_query(tokens, all_of=False)
    if match is None:
        return pool
    stmt = keyed.where(text("search_person MATCH :m")).order_by(_FTS.c.rank).limit(_POOL)
    return _rows(await session.execute(stmt, {"m": match}))


async def _pool_postgresql(
    session: AsyncSession, score: _Scorer, where: Select[tuple[int]]
) -> list[Row]:
    """The same widening as on SQLite, with the trigram GIN index on ``name_key``.

    ``LIKE '%token%'`` (every token as typed; then every token but one, and
    of that one a word beginning with its head or containing its tail, see
    ``_slip_pieces``, or for a short one its word similarity at 0.3 or a word
    beginning with it with one slip, ``_one_slip_regex``) is
    answered by the GIN index, so the first two steps read only the rows that
    can match; the last step, the word similarity of the whole query at 0.5,
    runs only when they found nothing. The thresholds are written into the
    statements, so a search sets no session variable (one round trip each)
    unless it comes to the last step.
    """
    terms = score.terms
    tokens = [forms[0] for forms in terms]
    query = " ".join(tokens)
    params: dict[str, str] = {"q": query}
    like = []
    for i, forms in enumerate(terms):
        params[f"t{i}"] = forms[0]
        alts = []
        for j, form in enumerate(forms):
            if j and len(form) < PREFIX_MIN:
                continue
            params[f"l{i}_{j}"] = f"%{form}%"  # skeletons are [a-z] only: nothing to escape
            alts.append(f"person.name_key LIKE :l{i}_{j}")
        like.append("(" + " OR ".join(alts) + ")")
    steps = [" AND ".join(like)]
    if len(tokens) > 1:
        # one slipped token: the others as typed and, of the slipped one, the beginning
        # of a word or the end that a slip leaves intact (all from the index); a short
        # one as similar as the last step asks of a word
        loose = []
        for i, t in enumerate(tokens):
            if len(t) < 6:
                # the others read by the index; this one checked on their rows only
                params[f"r{i}"] = _one_slip_regex(t)
                loose.append(
                    f"(word_similarity(:t{i}, person.name_key) >= 0.3 OR person.name_key ~ :r{i})"
                )
                continue
            head, tail = _slip_pieces(t)
            # the head begins a word: the index reads it by the trigrams of a word's start
            params |= {f"hs{i}": f"{head}%", f"hw{i}": f"% {head}%", f"ht{i}": f"%{tail}%"}
            loose.append(
                f"(person.name_key LIKE :hs{i} OR person.name_key LIKE :hw{i}"
                f" OR person.name_key LIKE :ht{i})"
            )
        slipped = " OR ".join(
            "(" + " AND ".join([*like[:i], *like[i + 1 :], loose[i]]) + ")"
            for i in range(len(tokens))
        )
        steps.append(f"({slipped})")
    pool: list[Row] = []
    seen: set[int] = set()
    keyed = where.add_columns(Person.name_key, Person.family_name)
    for cond in steps:
        # read unranked (up to _CAP) and rank here by the final score, as on SQLite:
        # computing word_similarity for every match inside PostgreSQL cost more
        stmt = keyed.where(text(f"({cond})")).limit(_CAP)
        _add(pool, seen, _best(score, _rows(await session.execute(stmt, params))))
        if len(pool) >= _ENOUGH:
            return pool[:_POOL]
    if pool:
        return pool
    await session.execute(
        text("SELECT set_config('pg_trgm.word_similarity_threshold', '0.5', true)")
    )
    stmt = (
        keyed.where(text(":q <% person.name_key"))
        .order_by(text("word_similarity(:q, person.name_key) DESC"))
        .limit(_POOL)
    )
    return _rows(await session.execute(stmt, {"q": query}))


async def name_matches(
    session: AsyncSession,
    tokens: list[str] | list[tuple[str, ...]],
    *,
    birth_dates: list[date] | None = None,
    sex: str | None = None,
    facility_id: int | None = None,
) -> list[tuple[int, float]]:
    """Ids of the people whose names match ``tokens`` (skeletons), best first, with the score.

    Only ids, keys and family names are read here (each step reads them with
    its matches: nothing is read twice); callers load the few rows they show.
    A token may be the tuple of ``prefix_forms`` (a search: it also matches
    the names it begins).
    """
    score = _Scorer([(t,) if isinstance(t, str) else t for t in tokens])
    where = select(Person.id).where(Person.merged_into_id.is_(None))
    if birth_dates:
        where = where.where(Person.birth_date.in_(birth_dates))
    if sex:
        where = where.where(Person.sex == sex)
    if facility_id is not None:
        where = where.where(Person.attached_facility_id == facility_id)
    if birth_dates:
        # a day holds a few dozen people even in a national registry: score them all
        keyed = where.add_columns(Person.name_key, Person.family_name).limit(5000)
        rows = _rows(await session.execute(keyed))
    elif session.get_bind().dialect.name == "postgresql":
        rows = await _pool_postgresql(session, score, where)
    else:
        rows = await _pool_sqlite(session, score, where)
    scored = [(pid, score(key), family) for pid, key, family in rows]
    scored.sort(key=lambda r: (-r[1], r[2], r[0]))
    return [(pid, s) for pid, s, _ in scored if s > 0]


async def _people(session: AsyncSession, ids: list[int]) -> list[Person]:
    """The rows of ``ids``, in that order."""
    if not ids:
        return []
    rows = {p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


async def people_by_name(
    session: AsyncSession,
    tokens: list[str],
    *,
    birth_dates: list[date] | None = None,
    sex: str | None = None,
    facility_id: int | None = None,
    limit: int | None = None,
) -> list[tuple[Person, float]]:
    """People whose names match ``tokens`` (skeletons), best first, with the name score."""
    found = await name_matches(
        session, tokens, birth_dates=birth_dates, sex=sex, facility_id=facility_id
    )
    found = found[:limit] if limit is not None else found
    score = dict(found)
    return [(p, score[p.id]) for p in await _people(session, [pid for pid, _ in found])]


async def search_persons(
    session: AsyncSession, principal: Principal, q: PersonQuery, page: PageParams
) -> Page[PersonOut]:
    """Only people the user may see; each one shown is audited as a search hit."""
    if not (q.national_id or q.name or q.family or q.given):
        raise Invalid.fields(
            [
                FieldError("national_id", N_("give a national id or a name")),
                FieldError("name", N_("give a national id or a name")),
            ]
        )
    facility_id = None
    if q.attached_to:
        facility_id = await _attached_to(session, q.attached_to)
    if q.national_id:
        stmt = select(Person).where(Person.national_id == q.national_id.strip())
        people = list((await session.scalars(stmt)).all())
        terms = _terms(q.name, q.family, q.given)
        ids = [
            p.id
            for p in people
            if (not terms or name_similarity(terms, p.name_key, prefix=True) > 0)
            and (q.birth_date is None or p.birth_date == q.birth_date)
            and (q.sex is None or p.sex == q.sex)
            and (facility_id is None or p.attached_facility_id == facility_id)
        ]
    else:
        terms = _terms(q.name, q.family, q.given)
        if not terms:
            raise Invalid.fields([FieldError("name", N_("give at least one letter of a name"))])
        found = await name_matches(
            session,
            terms,
            birth_dates=[q.birth_date] if q.birth_date else None,
            sex=q.sex,
            facility_id=facility_id,
        )
        ids = [pid for pid, _ in found]
    allowed = await visible_ids(session, principal, ids)
    shown = allowed[page.offset : page.offset + page.limit]
    people = await people_with_codes(session, [pid for pid, _ in shown])
    why = dict(shown)
    await audit_listing(session, principal, [(p, why[p.id]) for p, _ in people])
    items = [await person_out(session, p, codes=codes) for p, codes in people]
    return Page[PersonOut](items=items, total=len(allowed), limit=page.limit, offset=page.offset)


#: the name columns a FHIR ``name`` / ``family`` / ``given`` string parameter reads
_NAME_PARTS = {
    "family": ("family_name", "family_name_alt"),
    "given": ("given_name", "given_name_alt", "patronymic", "patronymic_alt"),
}
_NAME_PARTS["name"] = _NAME_PARTS["family"] + _NAME_PARTS["given"]


def _like_escape(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def person_ids_by_name_part(
    session: AsyncSession, part: str, value: str, how: str, *, limit: int
) -> list[int]:
    """Ids (ascending, not merged away) of the people one of whose ``part`` names
    (``family``, ``given`` with the patronymic, or ``name``: any of them; in either
    script) is ``value`` exactly (``how`` "exact": case and all) or contains it (
    "contains": case-insensitive; on SQLite, beyond ASCII, as typed, lower, upper or
    capitalised). At most ``limit`` + 1 (one more tells the caller there are more).
    Only ids, so not audited: the caller shows no one whose scope it has not checked."""
    cols = [getattr(Person, c) for c in _NAME_PARTS[part]]
    if how == "exact":
        alts = [c == value for c in cols]
    else:
        pattern = f"%{_like_escape(value)}%"
        if session.get_bind().dialect.name == "postgresql":
            alts = [c.ilike(pattern, escape="\\") for c in cols]
        else:
            forms = dict.fromkeys(
                f"%{_like_escape(v)}%"
                for v in (value, value.lower(), value.upper(), value.capitalize())
            )
            alts = [c.like(f, escape="\\") for c in cols for f in forms]
    stmt = (
        select(Person.id)
        .where(Person.merged_into_id.is_(None), or_(*alts))
        .order_by(Person.id)
        .limit(limit + 1)
    )
    return [int(i) for i in await session.scalars(stmt)]


async def search_persons_among(
    session: AsyncSession,
    principal: Principal,
    ids: list[int],
    q: PersonQuery,
    page: PageParams,
) -> Page[PersonOut]:
    """``search_persons`` among ``ids`` (the people a FHIR ``_has`` or an exact name
    found): q's filters narrow them (a name as ``search_persons`` matches it); q needs no
    name or national id. Only people the user may see; each shown audited as a search
    hit. In ascending id order."""
    stmt = select(Person).where(Person.id.in_(sorted(set(ids))), Person.merged_into_id.is_(None))
    if q.national_id:
        stmt = stmt.where(Person.national_id == q.national_id.strip())
    if q.birth_date:
        stmt = stmt.where(Person.birth_date == q.birth_date)
    if q.sex:
        stmt = stmt.where(Person.sex == q.sex)
    if q.attached_to:
        facility_id = await _attached_to(session, q.attached_to)
        stmt = stmt.where(Person.attached_facility_id == facility_id)
    terms = _terms(q.name, q.family, q.given)
    rows = await session.scalars(stmt.order_by(Person.id))
    found = [p.id for p in rows if not terms or name_similarity(terms, p.name_key, prefix=True) > 0]
    allowed = await visible_ids(session, principal, found)
    shown = allowed[page.offset : page.offset + page.limit]
    people = await people_with_codes(session, [pid for pid, _ in shown])
    why = dict(shown)
    await audit_listing(session, principal, [(p, why[p.id]) for p, _ in people])
    items = [await person_out(session, p, codes=codes) for p, codes in people]
    return Page[PersonOut](items=items, total=len(allowed), limit=page.limit, offset=page.offset)


async def _attached_to(session: AsyncSession, code: str) -> int:
    """The id of the facility a search's ``attached_to`` names; refused naming it."""
    facility_id = await session.scalar(select(Facility.id).where(Facility.code == code))
    if facility_id is None:
        raise Invalid.fields([FieldError("attached_to", f"no facility has code {code}")])
    return int(facility_id)
