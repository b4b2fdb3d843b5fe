"""`python -m gateway [--host H] [--port P]`: the HTTP/WebRTC gateway on uvicorn."""

from __future__ import annotations

import argparse
import sys
import urllib.request

import uvicorn

from gateway.app import create_app
from shared.config import cameras_or_exit, load_settings_or_exit
from shared.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--host", help="address to listen on (default: CAMSTREAM_GATEWAY_HOST, 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port (default: CAMSTREAM_GATEWAY_PORT, 8000)")
    parser.add_argument("--check", action="store_true", help="exit 0 if the gateway on this host answers /healthz")
    args = parser.parse_args(argv)
    settings = load_settings_or_exit("gateway")
    host = args.host or settings.gateway_host
    port = args.port or settings.gateway_port
    if args.check:
        return check("127.0.0.1" if host in ("0.0.0.0", "::") else host, port)  # noqa: S104
    setup_logging(settings.log_level, "gateway")
    cameras = cameras_or_exit("gateway", settings)
    # uvicorn handles SIGTERM/SIGINT itself: it stops accepting, then runs the lifespan's shutdown.
    uvicorn.run(create_app(settings, cameras), host=host, port=port, log_config=None, access_log=False)
    return 0


def check(host: str, port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=3) as reply:
            print(f"healthy: gateway answers on {host}:{port}")
            return 0 if reply.status == 200 else 1
    except OSError as e:
        print(f"unhealthy: gateway on {host}:{port} does not answer ({e})")
        return 1


if __name__ == "__main__":
    sys.exit(main())
