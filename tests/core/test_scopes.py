"""SMART system scopes onto our permissions (core.scopes): every permission is mapped,
each scope form parsed, and a client system may use a permission only when its role holds
it and a scope covers it."""

from __future__ import annotations

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given
from hypothesis import strategies as st

from salomat.core import scopes
from salomat.core.policy import PERMISSIONS, Role, permitted
from salomat.core.security import Principal

pytestmark = pytest.mark.no_db


def system(role: str, *granted: str) -> Principal:
    return Principal(
        user_id=1, username="his", role=role, session_id="s", scopes=frozenset(granted)
    )


def test_every_permission_is_mapped_to_r4_types():
    assert set(scopes.PERMISSION_ACCESS) == set(PERMISSIONS)
    for permission, access in scopes.PERMISSION_ACCESS.items():
        if access is None or access is scopes.ALWAYS:
            continue
        assert access.types, permission
        for t in access.types:
            assert get_fhir_model_class(t).__name__ == t, (permission, t)


@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_each_permission_needs_a_covering_scope(permission):
    """For every permission: a role holding it uses it with a scope of its type and kind,
    not with one of another kind or type, nor with none; a permission no system may use
    is covered by no scope at all."""
    access = scopes.PERMISSION_ACCESS[permission]
    holders = [r for r in PERMISSIONS[permission] if r not in (Role.admin, Role.auditor)]
    role = holders[0] if holders else Role.admin
    if access is None:
        assert not permitted(system(role, "system/*.*", "system/*.cruds"), permission)
        return
    if access is scopes.ALWAYS:
        assert permitted(system(role), permission)
        return
    t = sorted(access.types)[0]
    verb, other = ("read", "write") if access.kind == "read" else ("write", "read")
    assert permitted(system(role, f"system/{t}.{verb}"), permission) == bool(holders)
    assert permitted(system(role, f"system/*.{verb}"), permission) == bool(holders)
    assert not permitted(system(role, f"system/{t}.{other}"), permission)
    assert not permitted(system(role), permission)
    wrong_type = "Basic"  # a type no permission reads or writes
    assert not permitted(system(role, f"system/{wrong_type}.*"), permission)
    # a person (no scopes) is decided by the role alone
    person = Principal(user_id=1, username="p", role=role, session_id="s")
    assert permitted(person, permission) == (role in PERMISSIONS[permission])


def test_a_scope_never_gives_what_the_role_lacks():
    assert not permitted(system(Role.pharmacist, "system/*.*"), "person:read")
    assert permitted(system(Role.pharmacist, "system/*.*"), "prescription:dispense")


def test_break_glass_and_administration_are_never_a_systems():
    for p in ("break_glass:request", "user:manage", "audit:read", "client:manage"):
        assert scopes.PERMISSION_ACCESS[p] is None


@pytest.mark.parametrize(
    ("scope", "letters"),
    [
        ("system/Patient.read", "rs"),
        ("system/Patient.write", "cud"),
        ("system/Patient.*", "cruds"),
        ("system/*.read", "rs"),
        ("system/Patient.rs", "rs"),
        ("system/Observation.cruds", "cruds"),
        ("system/Observation.c", "c"),
        ("system/Observation.ud", "ud"),
    ],
)
def test_v1_and_v2_forms(scope, letters):
    parsed = scopes.parse(scope)
    assert parsed is not None
    assert parsed.letters == frozenset(letters)


@pytest.mark.parametrize(
    "scope",
    [
        "patient/Patient.read",
        "user/Patient.read",
        "system/Patient",
        "system/Patient.",
        "system/Patient.sr",  # v2 letters are in cruds order
        "system/Patient.rr",
        "system/patient.read",
        "system/Patient.read?category=x",
        "system/Patient.readx",
        "openid",
        "",
    ],
)
def test_what_is_no_system_scope(scope):
    assert scopes.parse(scope) is None


def test_includes():
    assert scopes.includes(["system/*.read"], "system/Patient.rs")
    assert scopes.includes(["system/*.read"], "system/Patient.r")
    assert not scopes.includes(["system/*.read"], "system/Patient.c")
    assert scopes.includes(["system/Patient.*"], "system/Patient.cruds")
    assert not scopes.includes(["system/Patient.*"], "system/Observation.read")
    assert not scopes.includes(["system/Patient.read"], "system/*.read")


@given(st.text(max_size=80))
def test_parse_never_raises(text):
    parsed = scopes.parse(text)
    if parsed is not None:
        assert text.startswith("system/")
        assert parsed.letters <= scopes.ALL_LETTERS


def test_a_services_own_check_follows_the_bound_scopes():
    """Services check ``allowed`` for what they add to an answer (a merged search, an
    _include, a page's links): in a client system's request the scopes narrow that too."""
    from salomat.core.policy import allowed, bind_system_scopes, reset_system_scopes

    token = bind_system_scopes(frozenset({"system/Patient.read"}))
    try:
        assert allowed("family_doctor", "person:read")
        assert not allowed("family_doctor", "immunization:read")
        assert not allowed("registrar", "immunization:read")
    finally:
        reset_system_scopes(token)
    assert allowed("family_doctor", "immunization:read")
