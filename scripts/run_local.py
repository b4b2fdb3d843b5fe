"""Run every camstream process on this host under supervisor, with an embedded Redis unless one is configured.

Called by scripts/run.sh after set-up. It renders deploy/supervisord.conf.template into its
run folder (CAMSTREAM_RUN_DIR, default .run/), prints what runs and where, and becomes
supervisord in the foreground: Ctrl-C (or SIGTERM) stops every program, Redis last.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

from gateway.auth.bootstrap import ensure_admin
from gateway.http.tls import is_loopback
from gateway.webrtc.compat import host_addresses
from shared.config import cameras_or_exit, load_settings_or_exit
from shared.db.accounts import Accounts
from shared.db.startup import open_database
from shared.db.url import database_url, masked
from shared.embedded_redis import find_redis_server, free_port
from shared.redact import mask_credentials
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "supervisord.conf.template"

REDIS_PROGRAM = """[program:redis]
command={server} {config}
priority=10
autorestart=true
stopsignal=TERM
redirect_stderr=true
stdout_logfile={run_dir}/logs/redis.log
"""


# Its password stays in this file (mode 0600) and in the programs' environment: never on a
# command line, where `ps` would show it to every user of the machine.
REDIS_CONFIG = """bind 127.0.0.1
port {port}
save ""
appendonly no
dir {run_dir}
protected-mode yes
requirepass {password}
"""


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, from its first byte."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


async def first_admin(settings: Settings) -> tuple[str, str | None]:
    """(the first admin's name, the password generated for it now, or None: not made now, or given)."""
    engine = await open_database(database_url(settings), settings.database_timeout_s)
    try:
        return settings.admin_user, await ensure_admin(Accounts(engine), settings)
    finally:
        await engine.dispose()


def render(run_dir: Path, analyzers: int, redis_program: str) -> str:
    text = TEMPLATE.read_text()
    for token, value in {
        "@RUN_DIR@": str(run_dir), "@ROOT@": str(ROOT), "@PYTHON@": sys.executable,
        "@ANALYZERS@": str(analyzers), "@REDIS_PROGRAM@": redis_program,
    }.items():  # fmt: skip
        text = text.replace(token, value)
    return text


def main() -> int:
    run_dir = Path(os.environ.get("CAMSTREAM_RUN_DIR", ROOT / ".run")).resolve()
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o700)  # logs, supervisor's socket, Redis's configuration: this user's only
    # Durable state of a run from this checkout stays beside it, like its logs (an explicit setting wins).
    os.environ.setdefault("CAMSTREAM_DATA_DIR", str(run_dir / "data"))
    settings = load_settings_or_exit("run")
    cameras = cameras_or_exit("run", settings)  # migrates and imports before any program starts
    admin, generated = asyncio.run(first_admin(settings))

    redis_program = ""
    if settings.redis_url is None:
        port, password = free_port(), secrets.token_urlsafe(24)
        config_path = run_dir / "redis.conf"
        write_private(config_path, REDIS_CONFIG.format(port=port, run_dir=run_dir, password=password))
        redis_program = REDIS_PROGRAM.format(server=find_redis_server(), config=config_path, run_dir=run_dir)
        os.environ["CAMSTREAM_REDIS_URL"] = f"redis://:{password}@127.0.0.1:{port}/0"
        redis_line = f"embedded redis-server at redis://127.0.0.1:{port}/0 (password in {config_path})"
    else:
        redis_line = mask_credentials(settings.redis_url_or_local())
    # The demo answers on this machine only unless told otherwise: plain HTTP is safe on loopback,
    # and a gateway on the network serves HTTPS (gateway.http.tls).
    host = os.environ.setdefault("CAMSTREAM_GATEWAY_HOST", "127.0.0.1")
    if not settings.webrtc_hosts:
        # A browser on this machine reaches the gateway on loopback, which aioice leaves out by itself.
        os.environ["CAMSTREAM_WEBRTC_HOSTS"] = ",".join(["127.0.0.1", *host_addresses()])
    workers = max(1, settings.analyzer_workers)
    config = run_dir / "supervisord.conf"
    config.write_text(render(run_dir, workers, redis_program))

    control = f"{Path(sys.executable).parent / 'supervisorctl'} -c {config}"
    print("camstream is starting under supervisor:", flush=True)
    print(f"  redis     {redis_line}", flush=True)
    print(f"  database  {masked(database_url(settings))}", flush=True)
    print(f"  footage   {settings.recordings_root}", flush=True)
    source = settings.cameras_file or "none, the built-in demo set on first start"
    print(f"  programs  ingest, {workers} analyzer worker(s), recorder, bridge, gateway; "
          f"cameras: {len(cameras.cameras)} in the database (camera file: {source})", flush=True)  # fmt: skip
    print(f"  status    {control} status", flush=True)
    print(f"  logs      {control} tail -f gateway   (all logs: {run_dir}/logs)", flush=True)
    scheme = "https" if settings.tls_cert or (not is_loopback(host) and settings.tls == "auto") else "http"
    reach = ("this machine only; for your network set CAMSTREAM_GATEWAY_HOST=0.0.0.0 (HTTPS, its own certificate)"
             if is_loopback(host) else f"listening on {host}")  # fmt: skip
    print(f"Open the dashboard: {scheme}://127.0.0.1:{settings.gateway_port}/   (API: /docs; {reach})", flush=True)
    if generated is not None:
        print(f"Log in as {admin} with the password {generated}   (shown this once: keep it, or change it "
              "under Account)", flush=True)  # fmt: skip
    else:
        print(f"Log in as {admin}   (password: CAMSTREAM_ADMIN_PASSWORD or the one printed on the first run; "
              f"lost it? {Path(sys.executable).parent / 'python'} -m gateway users reset-password {admin})",
              flush=True)  # fmt: skip
    print("Stop with Ctrl-C.", flush=True)
    supervisord = str(Path(sys.executable).parent / "supervisord")
    os.execv(supervisord, [supervisord, "-c", str(config)])  # noqa: S606 - become supervisord, for its signals


if __name__ == "__main__":
    sys.exit(main())
