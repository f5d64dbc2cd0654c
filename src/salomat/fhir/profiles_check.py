"""A resource checked against one of our profiles' differential (fhir/profiles.py), as
FHIR R4's profiling rules read it (profiling.html, elementdefinition.html):

- cardinality: each element's ``min``/``max`` counted within each instance of its parent
  (a slice counts the parent's items whose discriminator has the slice's fixed value);
- ``fixed[x]``: equal; ``pattern[x]``: the instance holds at least the pattern;
- a ``required`` binding: a code of the value set, through the terminology's
  ``$validate-code`` (``terminology.validate_code``);
- every invariant: its FHIRPath on each instance of the element (``fhirpathpy``); only a
  ``false`` fails it (an empty result is no verdict: the element's own cardinality says
  what is missing).

Each problem is an ``Issue`` naming the element path with its indexes; the texts are the
catalogue's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fhirpathpy import evaluate
from fhirpathpy.models import models

from salomat.core.i18n import N_
from salomat.fhir import terminology
from salomat.fhir.profiles import Element, Profile

R4 = models["r4"]


@dataclass(frozen=True)
class Issue:
    severity: str
    #: the OperationOutcome issue type (required, structure, value, code-invalid, invariant)
    code: str
    expression: str
    #: the catalogue's message and its values
    message: str
    params: dict[str, Any] = field(default_factory=dict)


Found = list[tuple[str, Any]]


def _children(at: str, node: Any, name: str) -> Found:
    """The items of one child of ``node``, a choice (``value[x]``) by any of its types."""
    if not isinstance(node, dict):
        return []
    if name.endswith("[x]"):
        prefix = name[:-3]
        keys = [
            k for k in node if k.startswith(prefix) and k[len(prefix) : len(prefix) + 1].isupper()
        ]
    else:
        keys = [name] if name in node else []
    out: Found = []
    for k in keys:
        value = node[k]
        if isinstance(value, list):
            out += [(f"{at}.{k}[{i}]", v) for i, v in enumerate(value)]
        else:
            out.append((f"{at}.{k}", value))
    return out


class _Walker:
    def __init__(self, profile: Profile):
        self.elements = {e.id: e for e in profile.elements}

    def slice_filter(self, base_id: str, slice_name: str, found: Found) -> Found:
        """The items of a sliced element that belong to the slice: their discriminator
        child has the slice's fixed value."""
        base = self.elements.get(base_id)
        by = base.slice_by if base is not None else None
        fixed = self.elements.get(f"{base_id}:{slice_name}.{by}") if by else None
        if fixed is None or fixed.fixed is None:
            return found
        want = fixed.fixed[1]
        return [(at, v) for at, v in found if isinstance(v, dict) and v.get(by) == want]

    def step(self, found: Found, prefix_id: str, step: str) -> Found:
        name, _, slice_name = step.partition(":")
        out: Found = []
        for at, node in found:
            out += _children(at, node, name)
        if slice_name:
            out = self.slice_filter(f"{prefix_id}.{name}" if prefix_id else name, slice_name, out)
        return out

    def instances(self, resource: dict[str, Any], element_id: str) -> Found:
        steps = element_id.split(".")
        found: Found = [(steps[0], resource)]
        prefix = steps[0]
        for step in steps[1:]:
            found = self.step(found, prefix, step)
            prefix = f"{prefix}.{step}"
        return found


def _contains(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and _contains(value[k], v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(_contains(v, p) for v in value) for p in pattern)
    return value == pattern


def _codings(value: Any) -> list[terminology.Coded]:
    if not isinstance(value, dict):
        return []
    if "coding" in value:
        codings = value.get("coding") if isinstance(value.get("coding"), list) else []
    else:
        codings = [value]  # a Coding
    return [
        terminology.Coded(c["system"], c["code"])
        for c in codings
        if isinstance(c, dict)
        and isinstance(c.get("code"), str)
        and isinstance(c.get("system"), str)
    ]


def _in_value_set(terms: terminology.Terminology, url: str, value: Any) -> bool:
    vs = terms.value_sets.get(url)
    items = _codings(value)
    if vs is None or not items:
        return False
    answer = terminology.validate_code(terms, items, vs)
    return any(p["name"] == "result" and p.get("valueBoolean") for p in answer["parameter"])


def _invariant_holds(node: Any, expression: str) -> bool:
    try:
        result = evaluate(node, expression, {}, R4)
    except Exception:
        return False
    return False not in result


def check(
    resource: dict[str, Any], profile: Profile, terms: terminology.Terminology | None = None
) -> list[Issue]:
    """Every way ``resource`` does not conform to ``profile``'s differential."""
    terms = terms or terminology.current()
    walker = _Walker(profile)
    issues: list[Issue] = []
    for e in profile.elements:
        issues += _cardinality(walker, resource, e)
        found = walker.instances(resource, e.id)
        for at, value in found:
            issues += _element_rules(terms, e, at, value, resource)
    return issues


def _cardinality(walker: _Walker, resource: dict[str, Any], e: Element) -> list[Issue]:
    if e.min is None and e.max is None:
        return []
    parent_id, _, last = e.id.rpartition(".")
    if not parent_id:
        return []
    out = []
    for at, parent in walker.instances(resource, parent_id):
        n = len(walker.step([(at, parent)], parent_id, last))
        where = f"{at}.{last.split(':')[0].removesuffix('[x]')}"
        if e.min is not None and n < e.min:
            out.append(
                Issue(
                    "error",
                    "required",
                    where,
                    N_("%(element)s: at least %(min)s required by the profile, %(n)s given"),
                    {"element": e.id, "min": e.min, "n": n},
                )
            )
        if e.max not in (None, "*") and n > int(e.max):  # type: ignore[arg-type]
            out.append(
                Issue(
                    "error",
                    "structure",
                    where,
                    N_("%(element)s: at most %(max)s allowed by the profile, %(n)s given"),
                    {"element": e.id, "max": e.max, "n": n},
                )
            )
    return out


def _element_rules(
    terms: terminology.Terminology, e: Element, at: str, value: Any, resource: dict[str, Any]
) -> list[Issue]:
    out = []
    if e.fixed is not None:
        kind, want = e.fixed
        ok = value == want if kind.startswith("fixed") else _contains(value, want)
        if not ok:
            out.append(
                Issue(
                    "error",
                    "value",
                    at,
                    N_("%(element)s must be %(value)s (the profile's %(kind)s)"),
                    {"element": e.id, "value": _short(want), "kind": kind},
                )
            )
    coded = not e.path.endswith("[x]") or re.search(r"(CodeableConcept|Coding)(\[\d+\])?$", at)
    required = e.binding is not None and e.binding[0] == "required" and coded
    if required and not _in_value_set(terms, e.binding[1], value):  # type: ignore[index]
        out.append(
            Issue(
                "error",
                "code-invalid",
                at,
                N_("%(element)s needs a code from the value set %(vs)s (required binding)"),
                {"element": e.id, "vs": e.binding[1]},  # type: ignore[index]
            )
        )
    for c in e.constraints:
        node = resource if "." not in e.id else value
        if not _invariant_holds(node, c.expression):
            out.append(
                Issue(
                    c.severity,
                    "invariant",
                    at,
                    c.human,
                    {"key": c.key},
                )
            )
    return out


def _short(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 200 else text[:197] + "..."
