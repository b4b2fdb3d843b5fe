"""The OpenAPI schema says how to authenticate: a session cookie or a bearer token on every
operation, except the few the Guard leaves open (their `security` is empty). It also shows the
camera admin bodies as the camera file's model (the routes take them as a mapping, so that the
camera file's own rules and messages judge them: gateway.cameras.store)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.auth.credentials import SESSION_COOKIE
from gateway.auth.guard import OPEN_PATHS
from shared.cameras import Camera

ERROR = {
    "type": "object", "properties": {"detail": {"description": "Why: a sentence, or the list of invalid fields."}},
    "required": ["detail"],
}  # fmt: skip
ERROR_REF = "#/components/schemas/Error"
# What the Guard may answer before a route runs: for every operation, and for the guarded ones.
ANY_ROUTE = {400: "Unknown Host name (see CAMSTREAM_ALLOWED_HOSTS)."}
TOO_LARGE = {413: "The body is over the limit (CAMSTREAM_MAX_BODY_BYTES; 4 MiB for a picture)."}
GUARDED = {
    401: "No valid session cookie or bearer token.",
    403: "Not allowed: an admin's operation, or a cross-origin request, or a cookie without our Origin.",
    503: "The database is unavailable, so credentials cannot be checked.",
}
SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                "description": "Set by POST /api/auth/login."},
    "token": {"type": "http", "scheme": "bearer", "description": "An API token from POST /api/auth/tokens."},
}  # fmt: skip


def document_security(app: FastAPI) -> None:
    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes,
                description="Every path needs a session cookie or a bearer token, except those marked open; "
                "/metrics is open when CAMSTREAM_METRICS_PUBLIC=true.",
            )  # fmt: skip
            components = document.setdefault("components", {})
            components["securitySchemes"] = SCHEMES
            components.setdefault("schemas", {})["Error"] = ERROR
            _camera_bodies(document)
            document["security"] = [{"session": []}, {"token": []}]
            for path, operations in document.get("paths", {}).items():
                for operation in operations.values():
                    if path in OPEN_PATHS:
                        operation["security"] = []
                    answers = ANY_ROUTE if path in OPEN_PATHS else ANY_ROUTE | GUARDED
                    if "requestBody" in operation:
                        answers = answers | TOO_LARGE
                    responses = operation.setdefault("responses", {})
                    if "422" in responses:  # our own checks say why in a sentence, FastAPI's in a list
                        responses["422"]["content"] = {"application/json": {"schema": {"$ref": ERROR_REF}}}
                    for status, description in answers.items():
                        responses.setdefault(str(status), {"description": description, "content": {
                            "application/json": {"schema": {"$ref": ERROR_REF}}}})  # fmt: skip
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


# The camera admin operations' bodies: (path, method) -> the schema's name.
CAMERA_BODIES = {("/api/cameras", "post"): "CameraIn", ("/api/cameras/{camera_id}", "patch"): "CameraChange"}


def _camera_bodies(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    camera = Camera.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in camera.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas["CameraIn"] = {
        **camera,
        "title": "CameraIn",
        "required": [f for f in camera["required"] if f != "id"],
        "description": "A camera as the camera file has it; `id` is assigned when absent.",
    }
    schemas["CameraChange"] = {
        **camera,
        "title": "CameraChange",
        "required": [],
        "description": "The fields to change; `analysis` and `record` replace theirs whole.",
    }
    for (path, method), name in CAMERA_BODIES.items():
        body = document["paths"][path][method]["requestBody"]
        body["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
