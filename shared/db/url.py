"""Which database a process uses: CAMSTREAM_DATABASE_URL, or an SQLite file in the data directory."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from shared.redact import mask_credentials
from shared.settings import ConfigError, Settings

SQLITE_FILE = "camstream.db"

# A URL without a driver gets the async one we ship; one that names a driver keeps it.
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
_SUPPORTED = ("sqlite+aiosqlite", "postgresql+asyncpg", "postgresql+psycopg")


def database_url(settings: Settings) -> URL:
    """The SQLAlchemy URL of the configured database. Raises ConfigError naming the (masked) URL."""
    if settings.database_url is None:
        path = (settings.data_dir / SQLITE_FILE).expanduser().resolve()
        return URL.create("sqlite+aiosqlite", database=str(path))
    text = settings.database_url.get_secret_value()
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError(f"CAMSTREAM_DATABASE_URL: not a database URL: {mask_credentials(text)}") from None
    driver = _ASYNC_DRIVERS.get(url.drivername, url.drivername)
    if driver not in _SUPPORTED:
        raise ConfigError(
            f"CAMSTREAM_DATABASE_URL: unsupported database {url.drivername!r} in {masked(url)}: "
            "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/NAME"
        )
    if driver.startswith("sqlite") and not url.database:
        raise ConfigError(
            "CAMSTREAM_DATABASE_URL: an SQLite URL needs a file: sqlite:////var/lib/camstream/camstream.db"
        )
    return url.set(drivername=driver)


def masked(url: URL | str) -> str:
    """The URL for logs and messages: user and password never shown."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    return mask_credentials(text)


def sqlite_path(url: URL) -> Path | None:
    """The file of an SQLite database (None for PostgreSQL or an in-memory SQLite)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)
