"""An ASGI middleware that refuses request bodies larger than a limit (413), declared or streamed.

The body is read here first (it is small: the API takes at most a few SDPs, or one picture to
enrol a face) and handed to the
app whole; a body that passes the limit is refused before the app sees any of it. (Raising from
inside the app's own read would not do: FastAPI turns any error while reading a body into 400.)
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.nesting import MAX_DEPTH, json_depth

# Paths that take a picture (enrolling a face): a larger limit than the API's few kilobytes.
PICTURE_PATH = re.compile(r"^/api/faces/[^/]+/samples$")
MAX_PICTURE_BYTES = 4 * 1024 * 1024
# One WebSocket message (a signalling message: an SDP of a few kilobytes, a candidate): larger ones
# close the socket with 1009 (uvicorn's default, 16 MiB, would let each socket hold that much).
MAX_WEBSOCKET_MESSAGE = 256 * 1024


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = MAX_PICTURE_BYTES if PICTURE_PATH.match(scope.get("path", "")) else self.max_bytes
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if (
            _read_as_json(headers.get(b"content-type")) and json_depth(body) > MAX_DEPTH
        ):  # before any parser or walk of ours recurses into it
            await self._answer(send, 422, f"JSON nested deeper than {MAX_DEPTH} levels")
            return
        whole: Message | None = {"type": "http.request", "body": body, "more_body": False}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()  # later reads wait for the disconnect, as streaming responses do

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, limit: int) -> None:
        await self._answer(send, 413, f"request body larger than {limit} bytes")

    async def _answer(self, send: Send, status: int, reason: str) -> None:
        body = json.dumps({"detail": reason}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _read_as_json(content_type: bytes | None) -> bool:
    """Whether FastAPI will parse this body as JSON: no type, application/json or application/*+json."""
    if not content_type:
        return True
    kind = content_type.split(b";")[0].strip().lower()
    return kind == b"application/json" or (kind.startswith(b"application/") and kind.endswith(b"+json"))
