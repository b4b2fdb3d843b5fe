"""Every workaround camstream needs around aiortc 1.16 and aioice 0.13, in one place.

Each one names the upstream behaviour it works around, so it can go when upstream changes.
The gateway, `scripts/run_local.py` and the test viewers use these and never reach into
aiortc or aioice themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aioice.ice
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError
from aiortc.rtcpeerconnection import filter_preferred_codecs

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0


class SignallingError(ValueError):
    """The viewer sent something we cannot use: a 400 (or an error message) with this text."""


def host_addresses() -> list[str]:
    """The IPv4 addresses aioice offers by itself (it leaves out loopback)."""
    return list(aioice.ice.get_host_addresses(True, False))


def use_host_addresses(hosts: list[str]) -> None:
    """Offer exactly these host candidates.

    Works around: aioice gathers from `aioice.ice.get_host_addresses`, which never returns
    127.0.0.1, and has no option for a list of its own; a loopback viewer needs it."""
    if hosts:
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(hosts)


def narrow_to_h264(transceiver: Any) -> None:
    """Offer and answer H.264 only: it is what the shared encoder makes."""
    prefer_codecs(transceiver, ["video/H264", "video/rtx"])


def prefer_codecs(transceiver: Any, mime_types: list[str]) -> None:
    """Offer and answer only these codecs, in this order (the first the viewer takes is sent).

    Works around: aiortc applies `setCodecPreferences` only while it reads a remote offer,
    and the transceiver of a viewer's offer is created by that very read, so its negotiated
    codecs (the private `_codecs`) are narrowed here too."""
    available = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    wanted = [m.lower() for m in mime_types]
    codecs = [c for c in available if c.mimeType.lower() in wanted]
    codecs.sort(key=lambda c: wanted.index(c.mimeType.lower()))
    transceiver.setCodecPreferences(codecs)
    if transceiver._codecs:
        transceiver._codecs = filter_preferred_codecs(transceiver._codecs, transceiver._preferred_codecs)


def negotiated_codec(transceiver: Any) -> str | None:
    """The codec a transceiver sends with (the first negotiated), e.g. "audio/PCMU"; None if none.

    Works around: aiortc keeps the negotiated codecs only in the private `_codecs`."""
    codecs = [c for c in transceiver._codecs if not c.mimeType.lower().endswith("/rtx")]
    return str(codecs[0].mimeType) if codecs else None


# What aiortc raises for input it cannot use. Works around: its SDP parser and state machine
# check with `assert` and let IndexError, KeyError, ValueError, TypeError and AttributeError
# out of malformed input; a StopIteration inside its coroutines surfaces as RuntimeError
# ("coroutine raised StopIteration"); and a second offer or an offer without a usable
# m-line ends in InvalidStateError, InvalidAccessError or a plain RuntimeError.
_AIORTC_INPUT_ERRORS: tuple[type[BaseException], ...] = (
    AssertionError, IndexError, KeyError, ValueError, TypeError, AttributeError, RuntimeError,
    StopIteration, UnicodeError, RecursionError, InvalidStateError, InvalidAccessError, OperationError, InternalError,
)  # fmt: skip


@contextmanager
def viewer_input(what: str) -> Iterator[None]:
    """Turn what aiortc raises over a viewer's SDP or candidate into a SignallingError naming it."""
    try:
        yield
    except SignallingError:
        raise
    except _AIORTC_INPUT_ERRORS as e:
        detail = str(e).splitlines()[0][:200] if str(e) else ""
        raise SignallingError(f"{what}: {type(e).__name__}{': ' + detail if detail else ''}") from e


async def close_peer(pc: RTCPeerConnection) -> None:
    """Close a peer connection in whatever state negotiation left it, releasing its sockets.

    Works around: `RTCPeerConnection.close()` stops at the first transceiver that has no
    transport yet (a remote description that failed half way) with an AttributeError, leaving
    the other transports, their ICE sockets and its listeners behind; a second call then waits
    forever on the close it never finished. Here the rest is stopped piece by piece."""
    try:
        await asyncio.wait_for(pc.close(), CLOSE_TIMEOUT_S)
        return
    except Exception as e:  # any: what follows releases what close() could not
        log.debug("aiortc could not close a peer connection (%s: %s); releasing its parts", type(e).__name__, e)
    for transceiver in pc.getTransceivers():
        with contextlib.suppress(Exception):
            await transceiver.stop()
        for dtls in {transceiver.sender.transport, transceiver.receiver.transport} - {None}:
            with contextlib.suppress(Exception):
                await dtls.stop()
            with contextlib.suppress(Exception):
                await dtls.transport.stop()
    if pc.sctp is not None:
        with contextlib.suppress(Exception):
            await pc.sctp.stop()
            await pc.sctp.transport.stop()
            await pc.sctp.transport.transport.stop()
    pc.remove_all_listeners()
    closing = getattr(pc, "_RTCPeerConnection__isClosed", None)
    if isinstance(closing, asyncio.Future) and not closing.done():
        closing.set_result(True)


def quiet_failed_connects(loop: asyncio.AbstractEventLoop) -> None:
    """Log a viewer's failed connection attempt as what it is, not as an unretrieved task error.

    Works around: aiortc starts `RTCPeerConnection.__connect` as a task of its own and never
    awaits it; with a description that left a transceiver without a transport (a malformed
    offer) it fails with AttributeError, which asyncio then reports at ERROR with a traceback."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        future = context.get("future")
        coroutine = future.get_coro() if isinstance(future, asyncio.Task) else None
        if coroutine is not None and "RTCPeerConnection.__connect" in getattr(coroutine, "__qualname__", ""):
            error = context.get("exception")
            log.info("a viewer's connection attempt failed: %s: %s", type(error).__name__, error)
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
