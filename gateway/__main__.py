"""`python -m gateway [--host H] [--port P]`: the HTTP/WebRTC gateway on uvicorn (HTTPS when
CAMSTREAM_TLS_CERT and CAMSTREAM_TLS_KEY are set).

Also: `python -m gateway users ...` manages users, `python -m gateway make-cert` writes a
self-signed certificate, `python -m gateway --check` asks a running gateway for /healthz."""

from __future__ import annotations

import argparse
import logging
import ssl
import sys
import urllib.request
from pathlib import Path

import uvicorn

from gateway.app import create_app
from gateway.auth import users_cli
from gateway.http.limits import MAX_WEBSOCKET_MESSAGE
from gateway.http.protocol import BoundedHeadProtocol
from gateway.http.tls import fingerprint, is_loopback, make_certificate, tls_files
from shared.cameras import Camera
from shared.process import Action, ProcessSpec, Started, run_process
from shared.settings import Settings

log = logging.getLogger("gateway")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default: CAMSTREAM_GATEWAY_HOST, 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port (default: CAMSTREAM_GATEWAY_PORT, 8000)")


def cert_arguments(cert: argparse.ArgumentParser) -> None:
    cert.add_argument("--host", dest="names", action="append", default=[], help="a name or address it is for")
    cert.add_argument("--out", type=Path, help="folder (default: CAMSTREAM_DATA_DIR/tls)")


def make_cert(settings: Settings, args: argparse.Namespace) -> int:
    cert_path, key_path = make_certificate(args.out or settings.data_dir / "tls", args.names)
    print(f"CAMSTREAM_TLS_CERT={cert_path}\nCAMSTREAM_TLS_KEY={key_path}")
    return 0


def run(started: Started) -> int:
    settings = started.settings
    host = started.args.host or settings.gateway_host
    port = started.args.port or settings.gateway_port
    tls = tls_files(settings, host)
    if tls is not None and settings.tls_cert is None:
        log.warning("serving HTTPS on %s with camstream's own certificate %s (SHA-256 %s): browsers warn once; "
                    "CAMSTREAM_TLS_CERT for your own, CAMSTREAM_TLS=off behind a TLS proxy", host, tls[0],
                    fingerprint(tls[0]))  # fmt: skip
    elif tls is None and not is_loopback(host):
        log.warning("serving plain HTTP on %s (CAMSTREAM_TLS=off): passwords cross the network in clear unless a "
                    "reverse proxy does TLS", host)  # fmt: skip
    # uvicorn handles SIGTERM/SIGINT itself: it stops accepting, then runs the lifespan's shutdown.
    uvicorn.run(
        create_app(settings, started.cameras), host=host, port=port, log_config=None, access_log=False,
        ws_max_size=MAX_WEBSOCKET_MESSAGE, http=BoundedHeadProtocol,
        # Forwarded addresses only from the proxies named (uvicorn believes loopback's by default:
        # anyone on this host could pick any address and pass the per-address login limits).
        proxy_headers=bool(settings.trusted_proxies.strip()), forwarded_allow_ips=settings.trusted_proxies.strip(),
        ssl_certfile=str(tls[0]) if tls else None, ssl_keyfile=str(tls[1]) if tls else None,
    )  # fmt: skip
    return 0


def describe(camera: Camera) -> str:
    return f"camera {camera.id} {camera.name!r}: {'shown' if camera.enabled else 'disabled'}"


def check(settings: Settings, args: argparse.Namespace) -> int:
    """Healthy while the gateway on this host answers /healthz."""
    host = args.host or settings.gateway_host
    port = args.port or settings.gateway_port
    secure = tls_files(settings, host, make=False) is not None
    return answers("127.0.0.1" if host in ("0.0.0.0", "::") else host, port, secure)  # noqa: S104


def answers(host: str, port: int, secure: bool) -> int:
    scheme = "https" if secure else "http"
    # Our own gateway on this host, maybe with a self-signed certificate: no verification to do.
    context = ssl._create_unverified_context() if secure else None  # noqa: S323
    try:
        url = f"{scheme}://{host}:{port}/healthz"
        with urllib.request.urlopen(url, timeout=3, context=context) as reply:  # noqa: S310 - http(s) only
            print(f"healthy: gateway answers on {host}:{port}")
            return 0 if reply.status == 200 else 1
    except OSError as e:
        print(f"unhealthy: gateway on {host}:{port} does not answer ({e})")
        return 1


SPEC = ProcessSpec(
    "gateway", __doc__ or "", run, check, describe, arguments=arguments,
    actions=(
        Action("users", users_cli.HELP, users_cli.run, users_cli.arguments),
        Action("make-cert", "write a self-signed certificate and key for HTTPS", make_cert, cert_arguments),
    ),
)  # fmt: skip

if __name__ == "__main__":
    sys.exit(run_process(SPEC))
