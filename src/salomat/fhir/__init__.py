"""FHIR R4 API: routes plus one small mapper per resource (fhir.resources R4B)."""
