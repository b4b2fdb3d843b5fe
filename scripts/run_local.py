"""Run every camstream process on this host, with an embedded Redis unless one is configured.

Called by scripts/run.sh after set-up. Ctrl-C (or SIGTERM) stops the processes, then Redis.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

import aioice.ice

from shared.config import load_config_or_exit
from shared.embedded_redis import EmbeddedRedis
from shared.lifecycle import stop_on_signals
from shared.redact import mask_credentials


def processes(analyzer_workers: int) -> list[tuple[str, list[str]]]:
    """The processes of the system, in start order."""
    workers = [("analyzer", [sys.executable, "-m", "analyzer"])] * analyzer_workers
    return [("ingest", [sys.executable, "-m", "ingest"]), *workers, ("gateway", [sys.executable, "-m", "gateway"])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, help="stop by itself after this many seconds")
    args = parser.parse_args()
    settings, cameras = load_config_or_exit("run")

    stop = stop_on_signals()
    embedded = None
    env = dict(os.environ)
    if not settings.webrtc_hosts:
        # A browser on this machine reaches the gateway on loopback, which aioice leaves out by itself.
        env["CAMSTREAM_WEBRTC_HOSTS"] = ",".join(["127.0.0.1", *aioice.ice.get_host_addresses(True, False)])
    if settings.redis_url is None:
        embedded = EmbeddedRedis()
        embedded.start()
        env["CAMSTREAM_REDIS_URL"] = embedded.url
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for name, command in processes(settings.analyzer_workers):
            children.append((name, subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)))
        redis_line = (
            f"embedded redis-server (pid {embedded.pid}) at {embedded.url}\n"
            f"           look inside: redis-cli -p {embedded.port} --scan --pattern 'camstream:*'\n"
            f"           watch events: redis-cli -p {embedded.port} SUBSCRIBE camstream:events"
            if embedded
            else mask_credentials(settings.redis_url_or_local())
        )
        lines = [f"  redis    {redis_line}"]
        lines += [f"  {name:<8} python -m {name} (pid {process.pid})" for name, process in children]
        lines.append(f"  cameras  {len(cameras.cameras)} from {settings.cameras_file or 'the built-in demo set'}")
        lines.append(f"Open the dashboard: http://127.0.0.1:{settings.gateway_port}/   (API: /docs)")
        print("camstream is running:", *lines, "Stop with Ctrl-C.", sep="\n", flush=True)
        return wait_for_stop(children, stop, args.duration)
    finally:
        stop_children(children)
        if embedded:
            embedded.stop()
        print("camstream stopped.", flush=True)


def wait_for_stop(
    children: list[tuple[str, subprocess.Popen[bytes]]], stop: threading.Event, duration_s: float | None
) -> int:
    deadline = time.monotonic() + duration_s if duration_s else None
    while not stop.wait(0.5):
        if deadline and time.monotonic() > deadline:
            break
        for name, process in children:
            if process.poll() is not None:
                print(f"camstream: {name} exited with code {process.returncode}; stopping", file=sys.stderr)
                return 1
    return 0


def stop_children(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _name, process in reversed(children):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for _name, process in reversed(children):
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    sys.exit(main())
