"""`python -m recorder`: keeps the recordings index and the disk in order (the camera processes
write the segments). `python -m recorder reindex` rebuilds the index from the files."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading

from recorder.service import Recorder
from shared.config import EXIT_UNAVAILABLE, cameras_or_exit, load_settings_or_exit
from shared.db.engine import DatabaseUnavailable
from shared.db.startup import open_database
from shared.db.url import database_url
from shared.lifecycle import stop_on_signals
from shared.logs import setup_logging
from shared.settings import Settings

log = logging.getLogger("recorder")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recorder", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["run", "reindex"], default="run")
    args = parser.parse_args(argv)
    settings = load_settings_or_exit("recorder")
    setup_logging(settings.log_level, "recorder")
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


if __name__ == "__main__":
    sys.exit(main())
