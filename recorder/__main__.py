"""`python -m recorder`: keeps the recordings index and the disk in order (the camera processes
write the segments). `python -m recorder reindex` rebuilds the index from the files."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
import time

from recorder.service import HEARTBEAT, Recorder
from shared.config import EXIT_CONFIG, EXIT_UNAVAILABLE, cameras_or_exit, load_settings_or_exit
from shared.db.engine import DatabaseUnavailable
from shared.db.startup import open_database
from shared.db.url import database_url
from shared.disk_floor import floor_problem
from shared.lifecycle import stop_on_signals
from shared.logs import setup_logging
from shared.settings import Settings

log = logging.getLogger("recorder")

CHECK_STALE_S = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recorder", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["run", "reindex"], default="run")
    parser.add_argument("--check", action="store_true", help="exit 0 if the recorder finished a pass lately")
    args = parser.parse_args(argv)
    settings = load_settings_or_exit("recorder")
    if args.check:
        return check(settings)
    setup_logging(settings.log_level, "recorder")
    if problem := floor_problem(settings, settings.recordings_root):
        print(f"camstream recorder: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    cameras_or_exit("recorder", settings)  # the database reachable, migrated, the camera file applied
    stop = stop_on_signals()
    try:
        return asyncio.run(_run(settings, args.command, stop))
    except DatabaseUnavailable as e:
        print(f"camstream recorder: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE


async def _run(settings: Settings, command: str, stop: threading.Event) -> int:
    engine = await open_database(database_url(settings), settings.database_timeout_s)
    try:
        recorder = Recorder(settings, engine, stop)
        if command == "reindex":
            count = await recorder.reindex()
            print(f"recorder: the index holds {count} segments, rebuilt from {settings.recordings_root}")
            return 0
        await recorder.run()
        log.info("recorder stopped")
        return 0
    finally:
        await engine.dispose()


def check(settings: Settings) -> int:
    try:
        age_s = time.time() - (settings.recordings_root / HEARTBEAT).stat().st_mtime
    except FileNotFoundError:
        print("unhealthy: the recorder has not finished a pass")
        return 1
    if age_s > CHECK_STALE_S:
        print(f"unhealthy: the recorder's last pass was {age_s:.0f} s ago")
        return 1
    print(f"healthy: last pass {age_s:.0f} s ago")
    return 0


if __name__ == "__main__":
    sys.exit(main())
