"""uvicorn's httptools protocol with a bound on a request's head (its line and headers).

httptools sets none: a client could send megabytes of headers, held in memory until they end.
Past MAX_HEAD_BYTES the request is answered 431 and the connection closed, counted as the bytes
arrive, before any of it is parsed into headers.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A browser with a session cookie sends about 1 KiB; nginx's default allows 32 KiB.
MAX_HEAD_BYTES = 64 * 1024
_REASON = f"request line and headers larger than {MAX_HEAD_BYTES} bytes"


class BoundedHeadProtocol(HttpToolsProtocol):
    _in_head = True
    _head_bytes = 0
    _tail = b""  # the last bytes of the head so far: its end ("\r\n\r\n") may straddle two reads

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")  # only the head counts, not a body sent with it
            self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._tail = seen[-3:] if end < 0 else b""
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._tail = True, 0, b""  # the next request starts its head

    def _refuse_head(self) -> None:
        if self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            + f"content-length: {len(_REASON)}\r\nconnection: close\r\n\r\n{_REASON}".encode()
        )
        self.transport.close()
