"""Passwords: Argon2id hashes (argon2-cffi), checked off the event loop, and generated ones."""

from __future__ import annotations

import asyncio
import functools
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# RFC 9106's second recommended option (t=3, 64 MiB, p=4), argon2-cffi's default: about 60 ms a
# hash on this project's 2-core machine, inside the 50-250 ms a login may cost (bench/gateway.py).
HASHER = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)
MIN_LENGTH = 8
MAX_LENGTH = 1024
# At most two hashes at once, in threads of their own: each takes 64 MiB and a core, and a flood
# of logins must take neither the gateway's memory nor the threads its other work runs in.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


class WeakPassword(ValueError):
    pass


def check_strength(password: str) -> None:
    """Raises WeakPassword with the reason."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")


def generate() -> str:
    """A strong password that is easy to copy: 24 URL-safe characters (144 random bits)."""
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _stand_in() -> str:
    return HASHER.hash(secrets.token_urlsafe(18))


async def hash_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_POOL, hash_password, password)


async def verify_async(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (no such user) the same work is done against a stand-in, so
    the time of an answer does not tell whether a user name exists."""
    loop = asyncio.get_running_loop()
    if password_hash is None:
        stand_in = await loop.run_in_executor(_POOL, _stand_in)
        await loop.run_in_executor(_POOL, verify, stand_in, password)
        return False
    return await loop.run_in_executor(_POOL, verify, password_hash, password)
