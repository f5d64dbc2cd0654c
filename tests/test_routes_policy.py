"""Deny by default: every route of the app declares its permission."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from salomat.core.policy import PERMISSIONS, Public, Require, Role
from salomat.core.uow import UnitOfWorkRoute, router
from salomat.main import PUBLIC_PATHS


def _declared(route: APIRoute) -> list[object]:
    found: list[object] = []
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Require | Public):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


def undeclared_routes(app: FastAPI) -> list[str]:
    problems = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        path = getattr(route, "path", repr(route))
        if isinstance(route, APIRoute):
            if not isinstance(route, UnitOfWorkRoute):
                problems.append(f"{path}: not a UnitOfWorkRoute (use core.uow.router())")
            declared = _declared(route)
            if len(declared) != 1:
                problems.append(
                    f"{sorted(route.methods)} {path}: declares {len(declared)} permissions"
                )
        elif path not in PUBLIC_PATHS:
            problems.append(f"{path}: served outside the policy and not listed in PUBLIC_PATHS")
    return problems


def test_every_route_of_the_app_declares_exactly_one_permission(app):
    assert undeclared_routes(app) == []


def test_the_check_catches_an_undeclared_route(app):
    extra = router()

    @extra.get("/api/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    @extra.get("/api/v1/declared", dependencies=[Depends(Require("person:read"))])
    async def declared() -> dict[str, str]:
        return {}

    probe = FastAPI()
    probe.include_router(extra)
    probe.add_api_route("/plain", forgotten)
    problems = undeclared_routes(probe)
    assert any("/api/v1/forgotten" in p for p in problems)
    assert any("/plain" in p and "UnitOfWorkRoute" in p for p in problems)
    assert not any("/api/v1/declared" in p for p in problems)


def test_every_permission_names_real_roles_and_admin_cannot_read_people():
    for perm, roles in PERMISSIONS.items():
        assert roles, perm
        assert all(isinstance(r, Role) for r in roles)
    # the administrator manages accounts, not patients
    for perm in ("person:read", "person:search", "person:create"):
        assert Role.admin not in PERMISSIONS[perm]
    # analysts see indicators, never person-level records
    for role in (Role.analyst, Role.insurance_analyst, Role.epidemiologist):
        assert role not in PERMISSIONS["person:read"]


def test_undeclared_permission_is_a_programming_error():
    import pytest

    with pytest.raises(KeyError):
        Require("person:teleport")


def test_an_employer_account_holds_nothing_but_its_own_session_and_shared_certificates():
    held = {perm for perm, roles in PERMISSIONS.items() if Role.employer in roles}
    assert held == {"session:self", "sick_leave:employer"}
    # not staff: the registries, the formulary and person data stay closed to it
    for perm in ("facility:read", "territory:read", "practitioner:read", "formulary:read"):
        assert Role.employer not in PERMISSIONS[perm]
        assert Role.admin in PERMISSIONS[perm]


def test_sick_leave_permissions_are_declared_for_the_roles_that_need_them():
    clinicians = {Role.family_doctor, Role.nurse, Role.obstetrician, Role.oncologist}
    assert PERMISSIONS["sick_leave:read"] == clinicians | {Role.citizen}
    assert PERMISSIONS["sick_leave:issue"] == clinicians
    assert PERMISSIONS["sick_leave:vkk"] == clinicians - {Role.nurse}
    assert PERMISSIONS["sick_leave:portal"] == {Role.citizen}
    assert PERMISSIONS["sick_leave:employer"] == {Role.employer}
    assert PERMISSIONS["sick_leave:analytics"] == {Role.analyst, Role.insurance_analyst}
