"""The OpenAPI schema says how to authenticate: a session cookie or a bearer token on every
operation, except the few the Guard leaves open (their `security` is empty)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.auth.credentials import SESSION_COOKIE
from gateway.auth.guard import OPEN_PATHS

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
            document.setdefault("components", {})["securitySchemes"] = SCHEMES
            document["security"] = [{"session": []}, {"token": []}]
            for path, operations in document.get("paths", {}).items():
                if path in OPEN_PATHS:
                    for operation in operations.values():
                        operation["security"] = []
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
