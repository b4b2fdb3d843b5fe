"""The first admin: made on a start that finds no user at all, by whichever process gets there
first (the run command before it starts anything, or a gateway started alone)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gateway.auth import passwords
from shared.db.accounts import Accounts, Role
from shared.settings import Settings

log = logging.getLogger(__name__)

# Where a gateway started alone leaves the password it generated (mode 0600), since no banner is
# there to print it in and a log line must never hold a secret.
INITIAL_PASSWORD_FILE = "initial-admin-password"  # noqa: S105 - a file name


async def ensure_admin(accounts: Accounts, settings: Settings) -> str | None:
    """Make the first admin if there is no user. The password it was given comes from
    CAMSTREAM_ADMIN_PASSWORD; when that is unset one is generated and returned (to be shown once)."""
    if await accounts.count_users():
        return None
    given = settings.admin_password.get_secret_value() if settings.admin_password else None
    password = given or passwords.generate()
    created = await accounts.add_user(
        settings.admin_user, Role.ADMIN, await passwords.hash_async(password), only_if_none=True
    )
    if created is None:
        return None  # another process made the first user meanwhile
    await accounts.record("user_add", None, created.name, "first start", {"role": str(Role.ADMIN)})
    log.info("created the first admin %r (%s)", created.name,
             "password from CAMSTREAM_ADMIN_PASSWORD" if given else "password generated")  # fmt: skip
    return None if given else password


def leave_for_admin(data_dir: Path, user: str, password: str) -> Path:
    """Write a generated password where only this user can read it; log where (never what)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / INITIAL_PASSWORD_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(f"{user}\n{password}\n")
    log.warning("the first admin %r has a generated password, in %s (readable by this user only): log in, "
                "change it, and delete the file", user, path)  # fmt: skip
    return path
