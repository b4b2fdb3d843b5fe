"""Loaded by the schemathesis runs (SCHEMATHESIS_HOOKS): how to send an `application/sdp` body
(WHEP's offer), which schemathesis does not know."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/sdp")
def sdp(context: schemathesis.SerializationContext, value: Any) -> dict[str, Any]:
    if isinstance(value, bytes):
        return {"data": value}
    text = value if isinstance(value, str) else json.dumps(value)
    return {"data": text.encode("utf-8", "surrogatepass")}
