"""SMART Backend Services discovery: ``/fhir/.well-known/smart-configuration`` and the
OAuth security the CapabilityStatement declares (docs/exchange.md)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core import scopes
from salomat.core.config import get_settings
from salomat.core.policy import PUBLIC
from salomat.core.uow import router

router = router()  # type: ignore[no-redef]

SIGNING_ALGORITHMS = ["RS384", "ES384"]
_SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def _server(request: Request) -> str:
    return get_settings().public_base(str(request.base_url))


def token_endpoint(request: Request) -> str:
    return _server(request) + "/auth/token"


def scopes_supported() -> list[str]:
    out = ["system/*.read", "system/*.write", "system/*.*", "system/*.rs", "system/*.cruds"]
    for t in scopes.resource_types():
        out += [f"system/{t}.read", f"system/{t}.write", f"system/{t}.rs", f"system/{t}.cud"]
    return out


def security(request: Request) -> dict[str, Any]:
    """``rest.security`` of the CapabilityStatement: OAuth, SMART's token endpoint."""
    return {
        "extension": [
            {
                "url": _OAUTH_URIS,
                "extension": [{"url": "token", "valueUri": token_endpoint(request)}],
            }
        ],
        "service": [
            {"coding": [{"system": _SECURITY_SERVICE, "code": "OAuth"}]},
            {"coding": [{"system": _SECURITY_SERVICE, "code": "SMART-on-FHIR"}]},
        ],
        "description": "Bearer JWT from POST /auth/token: people by the OAuth2 password "
        "grant; client systems by SMART Backend Services (client_credentials with a "
        "private_key_jwt assertion, RS384 or ES384; system/ scopes): see "
        "/fhir/.well-known/smart-configuration.",
    }


@router.get("/.well-known/smart-configuration", dependencies=[Depends(PUBLIC)])
async def smart_configuration(request: Request) -> JSONResponse:
    """SMART discovery: how a client system gets a token (SMART App Launch 2.x, Backend
    Services)."""
    return JSONResponse(
        {
            "issuer": _server(request),
            "token_endpoint": token_endpoint(request),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGORITHMS,
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": scopes_supported(),
            "response_types_supported": ["token"],
            "capabilities": [
                "client-confidential-asymmetric",
                "permission-v1",
                "permission-v2",
            ],
        },
        headers={"Cache-Control": "public, max-age=3600"},
    )
