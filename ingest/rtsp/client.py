"""An RTSP client (RFC 2326) for cameras: RTP interleaved over the RTSP TCP connection, Basic or
Digest login, keep-alives, and timeouts on every step. Blocking: a camera process reads one
camera. Error messages never hold the URL (it may carry credentials).

Ours rather than FFmpeg's because FFmpeg's RTSP demuxer releases an access unit only when the
next one begins (one frame interval of latency); here each is released on its marker bit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from ingest.rtsp.sdp import Track, parse_sdp

USER_AGENT = "camstream"
MAX_RESPONSE = 64 * 1024


class RtspError(Exception):
    """The camera cannot be read. `status` is the RTSP status when the camera answered one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)  # (not frozen: a frozen dataclass costs a call per field to build, 400 times a second)
class RtpPacket:
    channel: int
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    payload: bytes
    received_at_s: float


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


# Servers (host, port) that have asked this process for a Digest login: never given Basic after.
_DIGEST_SERVERS: set[tuple[str, int]] = set()


class RtspClient:
    def __init__(self, url: str, open_timeout_s: float, read_timeout_s: float, pin: str | None = None) -> None:
        """`pin`: the SHA-256 (hex) of the certificate an rtsps:// camera must present; None takes any
        (cameras' certificates are self-signed as a rule: encryption without identity)."""
        parts = urlsplit(url)
        if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
            raise RtspError("not an rtsp:// or rtsps:// URL")
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else ""
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        self.url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))  # no credentials
        self._address = (parts.hostname, parts.port or (322 if parts.scheme == "rtsps" else 554))
        self._tls = parts.scheme == "rtsps"
        self._pin = pin
        self.tls_fingerprint: str | None = None  # the SHA-256 of the certificate an rtsps camera presented
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self._socket: socket.socket | None = None
        self._buffer = bytearray()
        self._cseq = 0
        self._session: str | None = None
        self._session_timeout_s = 60.0
        self._auth: tuple[str, dict[str, str]] | None = None  # scheme and challenge of the last 401
        self._last_sent = 0.0
        self.tracks: list[Track] = []
        self.channels: dict[int, Track] = {}

    # Opening

    def open(self, kinds: tuple[str, ...] = ("video",)) -> list[Track]:
        """Connect, DESCRIBE, SETUP the first track of each kind and PLAY. Raises RtspError."""
        try:
            self._socket = socket.create_connection(self._address, timeout=self.open_timeout_s)
            if self._tls:  # cameras' certificates are self-signed as a rule: identity by pin, if any
                context = ssl.create_default_context()
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                self._socket = context.wrap_socket(self._socket, server_hostname=self._address[0])
                self._check_pin(self._socket.getpeercert(binary_form=True) or b"")
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except TimeoutError:
            raise RtspError("timed out connecting to the camera") from None
        except OSError as e:
            raise RtspError(f"cannot connect: {e.strerror or type(e).__name__}") from None
        described = self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
        base = described.headers.get("content-base") or described.headers.get("content-location") or self.url
        try:
            tracks = parse_sdp(described.body.decode("utf-8", "replace"), base)
        except ValueError as e:
            raise RtspError(f"camera sent a malformed SDP: {e}") from None
        chosen = []
        for kind in kinds:
            track = next((t for t in tracks if t.kind == kind and t.codec), None)
            if track is not None:
                chosen.append(track)
        for index, track in enumerate(chosen):
            headers = {"Transport": f"RTP/AVP/TCP;unicast;interleaved={2 * index}-{2 * index + 1}"}
            reply = self.request("SETUP", track.control, headers)
            self._remember_session(reply.headers.get("session"))
            self.channels[_channel(reply.headers.get("transport", ""), 2 * index)] = track
        if not chosen:
            raise RtspError("the camera offers no stream camstream can read")
        self.request("PLAY", self.url if base == self.url else base, {"Range": "npt=0.000-"})
        self.tracks = chosen
        self._socket.settimeout(self.read_timeout_s)
        return chosen

    def _check_pin(self, certificate: bytes) -> None:
        """Before anything is sent: the certificate must be the pinned one, when there is a pin."""
        self.tls_fingerprint = hashlib.sha256(certificate).hexdigest()
        if self._pin is not None and not hmac.compare_digest(self.tls_fingerprint, self._pin):
            raise RtspError("the camera's certificate is not the pinned one (tls_fingerprint): nothing was sent to it")

    def _remember_session(self, value: str | None) -> None:
        if not value:
            return
        session, _, rest = value.partition(";")
        self._session = session.strip()
        for item in rest.split(";"):
            key, _, setting = item.strip().partition("=")
            if key.lower() == "timeout" and setting.strip().isdigit():
                self._session_timeout_s = max(5.0, float(setting))

    # Requests

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Response:
        """Send a request and wait for its response (RTP arriving meanwhile is dropped); log in when
        asked. Raises RtspError."""
        for attempt in range(2):
            self._send(method, url, headers or {})
            reply = self._response()
            if reply.status == 401 and attempt == 0 and self._user is not None and self._challenge(reply):
                continue
            if reply.status == 401:
                raise RtspError("camera refused the login (401 Unauthorized)", 401)
            if reply.status >= 300:
                raise RtspError(f"camera answered {method} with {reply.status} {reply.reason}"[:200], reply.status)
            return reply
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, headers: dict[str, str]) -> None:
        assert self._socket is not None
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}", f"User-Agent: {USER_AGENT}"]
        if self._session:
            lines.append(f"Session: {self._session}")
        if self._auth is not None:
            lines.append(f"Authorization: {self._authorization(method, url)}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        try:
            self._socket.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except OSError as e:
            raise RtspError(f"connection lost: {e.strerror or type(e).__name__}") from None
        self._last_sent = time.monotonic()

    def _challenge(self, reply: Response) -> bool:
        header = reply.headers.get("www-authenticate", "")
        scheme, _, rest = header.partition(" ")
        scheme = scheme.lower()
        if scheme not in ("basic", "digest"):
            return False
        if scheme == "digest":
            _DIGEST_SERVERS.add(self._address)
        elif self._address in _DIGEST_SERVERS:
            # A server that asked for Digest once and now wants Basic (the password in clear) is
            # not to be trusted with it: a man in the middle downgrading the login looks like this.
            raise RtspError("the camera asked for a Basic login after a Digest one: the password is not sent in clear",
                            401)  # fmt: skip
        self._auth = (scheme, _parameters(rest))
        return True

    def _authorization(self, method: str, url: str) -> str:
        assert self._auth is not None and self._user is not None
        scheme, challenge = self._auth
        if scheme == "basic":
            import base64  # noqa: PLC0415 - only for cameras that ask for Basic

            return "Basic " + base64.b64encode(f"{self._user}:{self._password}".encode()).decode()
        realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")

        def md5(text: str) -> str:
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        first, second = md5(f"{self._user}:{realm}:{self._password}"), md5(f"{method}:{url}")
        fields = {"username": self._user, "realm": realm, "nonce": nonce, "uri": url}
        if "auth" in challenge.get("qop", "").split(","):
            nc, cnonce = "00000001", secrets.token_hex(8)
            fields |= {"qop": "auth", "nc": nc, "cnonce": cnonce}
            fields["response"] = md5(f"{first}:{nonce}:{nc}:{cnonce}:auth:{second}")
        else:
            fields["response"] = md5(f"{first}:{nonce}:{second}")
        if "opaque" in challenge:
            fields["opaque"] = challenge["opaque"]
        unquoted = {"qop", "nc"}
        return "Digest " + ", ".join(f'{k}="{v}"' if k not in unquoted else f"{k}={v}" for k, v in fields.items())

    # Reading

    def _fill(self, need: int) -> None:
        assert self._socket is not None
        while len(self._buffer) < need:
            try:
                chunk = self._socket.recv(65536)
            except TimeoutError:
                raise RtspError(f"camera sent nothing for {self.read_timeout_s:g} s") from None
            except OSError as e:
                raise RtspError(f"connection lost: {e.strerror or type(e).__name__}") from None
            if not chunk:
                raise RtspError("camera closed the connection")
            self._buffer += chunk

    def _response(self) -> Response:
        while True:
            self._fill(1)
            if self._buffer[0] == 0x24:  # '$': an interleaved packet before the answer
                self._take_interleaved()
                continue
            return self._read_response()

    def _read_response(self) -> Response:
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_RESPONSE:
                raise RtspError("camera sent an oversized RTSP response")
            self._fill(len(self._buffer) + 1)
        head, _, _rest = bytes(self._buffer).partition(b"\r\n\r\n")
        del self._buffer[: len(head) + 4]
        lines = head.decode("utf-8", "replace").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("RTSP/") or not status_line[1].isdigit():
            raise RtspError("camera sent something that is not RTSP")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "www-authenticate" and headers.get(key, "").lower().startswith("digest"):
                continue  # offered both: Digest, never the password in clear
            headers[key] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_RESPONSE:
            raise RtspError("camera sent an oversized RTSP body")
        self._fill(length)
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return Response(int(status_line[1]), status_line[2] if len(status_line) > 2 else "", headers, body)

    def _take_interleaved(self) -> tuple[int, bytes]:
        self._fill(4)
        channel, length = self._buffer[1], int.from_bytes(self._buffer[2:4], "big")
        self._fill(4 + length)
        data = bytes(self._buffer[4 : 4 + length])
        del self._buffer[: 4 + length]
        return channel, data

    def packets(self) -> Iterator[RtpPacket]:
        """RTP packets of the set-up tracks, as they arrive. Raises RtspError when the camera
        stops sending or goes away. Every whole packet one read brought is cut out in one pass
        (one clock reading, one copy each, the buffer trimmed once): a 4 Mbit/s camera sends
        ~400 packets a second, and per-packet Python work is most of what reading it costs."""
        buffer, channels = self._buffer, self.channels
        while True:
            if time.monotonic() - self._last_sent > self._session_timeout_s / 2:
                self._send("GET_PARAMETER", self.url, {})  # keep the session alive; its answer is skipped
            self._fill(1)
            if buffer[0] != 0x24:
                self._read_response()
                continue
            self._fill(4)
            self._fill(4 + ((buffer[2] << 8) | buffer[3]))
            received = time.time()
            found: list[RtpPacket] = []
            at, end = 0, len(buffer)
            with memoryview(buffer) as view:  # released before the buffer is trimmed
                while end - at >= 4 and buffer[at] == 0x24:
                    start = at + 4
                    length = (buffer[at + 2] << 8) | buffer[at + 3]
                    if end - start < length:
                        break  # the rest comes with the next read
                    channel, at = buffer[at + 1], start + length
                    if channel in channels and length >= 12 and buffer[start] >> 6 == 2:  # not RTCP, and RTP
                        packet = _rtp(channel, view[start:at], received)
                        if packet is not None:
                            found.append(packet)
            del buffer[:at]
            yield from found

    def close(self) -> None:
        if self._socket is None:
            return
        try:
            self._socket.settimeout(0.5)
            if self._session:
                self._send("TEARDOWN", self.url, {})
        except (RtspError, OSError):
            pass
        finally:
            self._socket.close()
            self._socket = None


def _rtp(channel: int, data: memoryview, received_at_s: float) -> RtpPacket | None:
    """The packet in `data` (a view into the read buffer: only the payload is copied out)."""
    first, second = data[0], data[1]
    offset = 12 + 4 * (first & 0x0F)  # past the CSRCs
    if first & 0x10:  # a header extension
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * ((data[offset + 2] << 8) | data[offset + 3])
    end = len(data) - (data[-1] if first & 0x20 else 0)  # less the padding
    if offset > end:
        return None
    return RtpPacket(
        channel, second & 0x7F, bool(second & 0x80), (data[2] << 8) | data[3],
        int.from_bytes(data[4:8], "big"), bytes(data[offset:end]), received_at_s,
    )  # fmt: skip


def _channel(transport: str, default: int) -> int:
    """The RTP channel the camera chose (`interleaved=N-M`), or the one we asked for."""
    for item in transport.split(";"):
        key, _, value = item.strip().partition("=")
        if key.lower() == "interleaved" and value.split("-")[0].isdigit():
            return int(value.split("-")[0])
    return default


def _parameters(text: str) -> dict[str, str]:
    """`realm="x", nonce="y", qop="auth"` as a dict."""
    found, key, value, quoted, reading_key = {}, "", "", False, True
    for char in text + ",":
        if reading_key:
            if char == "=":
                reading_key = False
            elif char != ",":
                key += char
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            found[key.strip().lower()] = value.strip()
            key, value, reading_key = "", "", True
        else:
            value += char
    return found
