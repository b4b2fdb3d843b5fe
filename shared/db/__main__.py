"""`python -m shared.db upgrade|current`: migrate the database by hand, or say where it is.

Every process also migrates at start (one at a time), so this is for operators who want to
upgrade before starting anything, or to check a database.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from shared.config import EXIT_UNAVAILABLE, load_settings_or_exit
from shared.db import migrate
from shared.db.engine import DatabaseUnavailable, check_connection, create_engine
from shared.db.url import database_url, masked
from shared.settings import ConfigError, Settings


async def _run(command: str, settings: Settings) -> str:
    url = database_url(settings)
    engine = create_engine(url, settings.database_timeout_s)
    try:
        await check_connection(engine)
        async with migrate.exclusive(engine) as connection:
            if command == "upgrade":
                before, after = await migrate.upgrade(connection)
                change = f"upgraded {before or 'empty'} -> {after}" if before != after else f"already at {after}"
                return f"database {masked(url)}: {change}"
            current = await migrate.current(connection)
            state = "current" if current == migrate.head() else f"needs upgrade to {migrate.head()}"
            return f"database {masked(url)}: revision {current or 'none (empty)'} ({state})"
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.db", description=__doc__)
    parser.add_argument("command", choices=["upgrade", "current"])
    args = parser.parse_args(argv)
    settings = load_settings_or_exit("db")
    try:
        print(asyncio.run(_run(args.command, settings)))
    except ConfigError as e:
        print(f"camstream db: configuration error in {e}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as e:
        print(f"camstream db: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
