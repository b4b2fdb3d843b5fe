"""`python -m gateway users list|add NAME [--role viewer|admin]|reset-password NAME|delete NAME`.

A password is read from standard input with --password-stdin, asked for twice on a terminal, or
else generated and printed once. It never goes on the command line, where `ps` would show it."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time

from gateway.auth import passwords
from shared.db.accounts import Accounts, Role, UserExists
from shared.db.startup import open_database
from shared.db.url import database_url
from shared.settings import Settings

ACTOR = "shell"


HELP = "manage users (list, add, reset-password, delete)"


def arguments(users: argparse.ArgumentParser) -> None:
    actions = users.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every user and role")
    add = actions.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", choices=[str(r) for r in Role], default=str(Role.VIEWER))
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    reset = actions.add_parser("reset-password", help="set a new password; the user's sessions end")
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    delete = actions.add_parser("delete", help="delete a user, their sessions and tokens")
    delete.add_argument("name")


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run(args, settings))


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """(the password, whether it was generated and must be shown)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if sys.stdin.isatty():
        first = getpass.getpass("new password: ")
        if first != getpass.getpass("again: "):
            raise SystemExit("the two passwords differ")
        return first, False
    return passwords.generate(), True


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    engine = await open_database(database_url(settings), settings.database_timeout_s)
    accounts = Accounts(engine)
    try:
        if args.action == "list":
            for user in await accounts.list_users():
                created = time.strftime("%Y-%m-%d %H:%M", time.localtime(user.created_at))
                print(f"{user.name}\t{user.role}\tcreated {created}")
            return 0
        if args.action == "delete":
            return await _delete(accounts, args.name)
        password, generated = _new_password(args)
        try:
            passwords.check_strength(password)
        except passwords.WeakPassword as e:
            print(f"refused: {e}", file=sys.stderr)
            return 2
        hashed = await passwords.hash_async(password)
        if args.action == "add":
            try:
                await accounts.add_user(args.name, Role(args.role), hashed)
            except UserExists:
                print(f"refused: a user named {args.name!r} exists", file=sys.stderr)
                return 1
            await accounts.record("user_add", ACTOR, args.name, None, {"role": args.role})
            print(f"added {args.name} ({args.role})")
        else:
            found = await accounts.user(args.name)
            if found is None or not await accounts.set_password(found.id, hashed):
                print(f"no user named {args.name!r}", file=sys.stderr)
                return 1
            await accounts.record("password_reset", ACTOR, args.name)
            print(f"new password set for {args.name}; their sessions have ended")
        if generated:
            print(f"password (shown this once): {password}")
        return 0
    finally:
        await engine.dispose()


async def _delete(accounts: Accounts, name: str) -> int:
    user = await accounts.user(name)
    if user is None:
        print(f"no user named {name!r}", file=sys.stderr)
        return 1
    if user.role is Role.ADMIN and await accounts.count_admins() <= 1:
        print("refused: the last admin cannot be deleted", file=sys.stderr)
        return 1
    await accounts.delete_user(user.id)
    await accounts.record("user_delete", ACTOR, name)
    print(f"deleted {name}")
    return 0
