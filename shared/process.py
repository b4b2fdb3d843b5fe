"""One shape for every camstream process: what `python -m NAME` does before and after its work.

Each process's `__main__` describes itself with a `ProcessSpec` and calls `run_process`. The
runner gives every process the same command line and the same start:

    python -m NAME                      run (stops on SIGTERM or SIGINT)
    python -m NAME --check              exit 0 while the running process is healthy
    python -m NAME --validate-config    check the settings and the camera file, list the cameras
    python -m NAME ACTION [...]         a one-off action (`recorder reindex`, `gateway users`, ...)

and, to run: the settings loaded (a clear message and exit 2 when one is wrong), logging set up,
the process's own checks (`preflight`), the database migrated with the camera file applied (exit
69 when it cannot be reached), a stop event that SIGTERM and SIGINT set. An asyncio process then
opens the database and its Redis client with `opened_database` and `async_client`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.cameras import Camera, CameraFile
from shared.config import (
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    cameras_or_exit,
    load_file_config_or_exit,
    load_settings_or_exit,
)
from shared.lifecycle import stop_on_signals
from shared.logs import setup_logging
from shared.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True)
class Started:
    """What a process is given to run: settings and cameras checked, the stop event armed."""

    settings: Settings
    cameras: CameraFile
    stop: threading.Event
    args: argparse.Namespace


@dataclass(frozen=True)
class Action:
    """A one-off subcommand: it runs with the settings alone and returns the exit code."""

    name: str
    help: str
    run: Callable[[Settings, argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    # Started as the process itself is (its log level, preflight, the database ready): an action on the
    # process's own data. Otherwise it logs warnings alone (its output is its answer) and starts nothing.
    full_start: bool = False


@dataclass(frozen=True)
class ProcessSpec:
    name: str  # the package: `python -m NAME`, the log's process name, the prefix of its messages
    doc: str  # the module's docstring: --help's description
    run: Callable[[Started], int]
    check: Callable[[Settings, argparse.Namespace], int]
    describe: Callable[[Camera], str]  # a camera's line under --validate-config
    arguments: Callable[[argparse.ArgumentParser], None] | None = None  # options of the run itself
    actions: tuple[Action, ...] = ()
    # A problem of this process's own (a disk too small, a key that cannot be read): said, exit 2.
    preflight: Callable[[Settings], str | None] | None = None
    # The process's run without the database's cameras (a camera process given its camera on a pipe).
    run_alone: Callable[[Settings, argparse.Namespace], int | None] | None = None
    log_name: Callable[[argparse.Namespace], str] | None = None


def parser_for(spec: ProcessSpec) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {spec.name}", description=spec.doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help=f"exit 0 while the running {spec.name} is healthy")
    mode.add_argument("--validate-config", action="store_true", help="check settings and camera file, then exit")
    if spec.arguments is not None:
        spec.arguments(parser)
    if spec.actions:
        commands = parser.add_subparsers(dest="command", metavar="ACTION")
        for action in spec.actions:
            sub = commands.add_parser(action.name, help=action.help, description=action.help)
            if action.arguments is not None:
                action.arguments(sub)
    return parser


def run_process(spec: ProcessSpec, argv: list[str] | None = None) -> int:
    args = parser_for(spec).parse_args(argv)
    if args.validate_config:
        _, cameras = load_file_config_or_exit(spec.name)
        for camera in cameras.cameras:
            print(spec.describe(camera))
        return 0
    settings = load_settings_or_exit(spec.name)
    if args.check:
        return spec.check(settings, args)
    return _start(spec, settings, args)


def _start(spec: ProcessSpec, settings: Settings, args: argparse.Namespace) -> int:
    action = next((a for a in spec.actions if a.name == getattr(args, "command", None)), None)
    if action is not None and not action.full_start:
        setup_logging("WARNING", spec.name)
        return action.run(settings, args)
    setup_logging(settings.log_level, spec.log_name(args) if spec.log_name else spec.name)
    if spec.preflight is not None and (problem := spec.preflight(settings)):
        print(f"camstream {spec.name}: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if action is None and spec.run_alone is not None and (code := spec.run_alone(settings, args)) is not None:
        return code
    cameras = cameras_or_exit(spec.name, settings)
    if action is not None:
        return action.run(settings, args)
    return spec.run(Started(settings, cameras, stop_on_signals(), args))


def run_async(process: str, work: Coroutine[Any, Any, int]) -> int:
    """Run an asyncio process's work; a database that cannot be reached ends it with exit 69."""
    from shared.db.engine import DatabaseUnavailable  # noqa: PLC0415 - see shared.config

    try:
        return asyncio.run(work)
    except DatabaseUnavailable as e:
        print(f"camstream {process}: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE


@asynccontextmanager
async def opened_database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The database engine for the life of the block, disposed after."""
    from shared.db.startup import open_database  # noqa: PLC0415 - see shared.config
    from shared.db.url import database_url  # noqa: PLC0415

    engine = await open_database(database_url(settings), settings.database_timeout_s)
    try:
        yield engine
    finally:
        await engine.dispose()
