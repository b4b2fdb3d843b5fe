"""An rtsps:// camera for tests: TLS (a certificate of its own) in front of an RTSP server, each
connection's bytes passed through both ways, and counted."""

from __future__ import annotations

import hashlib
import socket
import ssl
import threading
import time
from pathlib import Path

from gateway.http.tls import make_certificate


class TlsProxy:
    def __init__(self, backend_port: int, folder: Path) -> None:
        cert, key = make_certificate(folder, [])
        self.fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self._backend_port = backend_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.bytes_to_backend = 0
        self._open = 0  # connections whose client side is still being read
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, credentials: str, mount: str = "/cam") -> str:
        return f"rtsps://{credentials}@127.0.0.1:{self.port}{mount}"

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self._context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        backend = socket.create_connection(("127.0.0.1", self._backend_port))
        threading.Thread(target=self._pump, args=(backend, client, False), daemon=True).start()
        with self._lock:
            self._open += 1
        try:
            self._pump(client, backend, True)
        finally:
            with self._lock:
                self._open -= 1

    def _pump(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if counted:
                    self.bytes_to_backend += len(chunk)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, target):
                end.close()

    def wait_idle(self, timeout_s: float = 5.0) -> None:
        """Until every connection's client side has ended, so that the bytes a closing client sent
        last (its TEARDOWN) are counted before a test reads the count."""
        deadline = time.monotonic() + timeout_s
        while self._open and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self._open, f"{self._open} connections still open after {timeout_s} s"

    def close(self) -> None:
        self._listener.close()
