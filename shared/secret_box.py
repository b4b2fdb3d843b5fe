"""Credentials at rest: camera URLs given through the API are stored encrypted (Fernet: AES-128-CBC
with HMAC-SHA256, from `cryptography`), as `enc:v1:<token>` in the camera's stored definition.

The key is CAMSTREAM_SECRET_KEY (any string of 16 characters or more; it is stretched with
SHA-256), or, when unset, one generated into `secret.key` in CAMSTREAM_DATA_DIR with mode 0600
on first use. Processes on several hosts must share the key: set CAMSTREAM_SECRET_KEY on each.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from shared.settings import ConfigError, Settings

PREFIX = "enc:v1:"
KEY_FILE = "secret.key"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(key).digest()))

    def seal(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def open(self, value: str, max_age_s: int | None = None) -> str:
        """The plaintext of a sealed value (a value that is not sealed comes back as it is); with
        `max_age_s`, one sealed longer ago than that is refused. Raises ConfigError."""
        if not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode(), ttl=max_age_s).decode()
        except (InvalidToken, ValueError):
            raise ConfigError(
                "a stored camera URL cannot be decrypted: CAMSTREAM_SECRET_KEY (or the data folder's secret.key) "
                "is not the key it was stored with"
            ) from None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def load_box(settings: Settings) -> SecretBox:
    """The box of CAMSTREAM_SECRET_KEY, or of the data folder's key file (made now if missing)."""
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value().encode())
    path = settings.data_dir / KEY_FILE
    try:
        return SecretBox(_key_file(path))
    except OSError as e:
        raise ConfigError(f"cannot read or create the key file {path}: {e.strerror or e}") from None


def _key_file(path: Path) -> bytes:
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(os.urandom(32))
    draft = path.with_name(f".{KEY_FILE}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key)
    try:  # a link appears whole: of several processes starting at once, one's key wins, all read it
        os.link(draft, path)
    except FileExistsError:
        key = path.read_bytes().strip()
    finally:
        draft.unlink(missing_ok=True)
    return key
