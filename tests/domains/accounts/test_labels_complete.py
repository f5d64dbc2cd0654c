"""Every kind of row the platform audits has a name in the reader's language: the access
log and the audit trail never show a raw code such as ``InsurancePayer`` on a Russian page.

The kinds are read from the source (each ``resource_type=`` given to an audit call, as a
string or a module constant) and from the permissions' areas (a refusal by role names the
permission's prefix), so a new domain that audits a new kind fails here until it is named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import salomat
from salomat.core import i18n
from salomat.core.policy import PERMISSIONS
from salomat.domains.accounts.service.labels import RESOURCE_TYPES, resource_label

SRC = Path(salomat.__file__).parent


def _audited_kinds() -> set[str]:
    kinds: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            t.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        }
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            for kw in call.keywords:
                if kw.arg != "resource_type":
                    continue
                if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    kinds.add(kw.value.value)
                elif isinstance(kw.value, ast.Name) and kw.value.id in constants:
                    kinds.add(constants[kw.value.id])
    return kinds


def test_the_scan_finds_the_audited_kinds() -> None:
    # the scan itself works: kinds written as strings and as module constants
    kinds = _audited_kinds()
    assert {"Session", "SickLeave", "SanatoriumReferral", "InsurancePayer"} <= kinds


@pytest.mark.parametrize("kind", sorted(_audited_kinds() | {p.split(":")[0] for p in PERMISSIONS}))
def test_every_audited_kind_is_named(kind: str) -> None:
    assert kind in RESOURCE_TYPES, f"{kind!r} has no label in accounts/service/labels.py"
    for lang in ("ru", "uz", "kk"):
        token = i18n.set_language(lang)
        try:
            shown = resource_label(kind)
        finally:
            i18n.reset_language(token)
        assert shown != kind, (kind, lang)
