"""Session-wide real parts: one redis-server on a free port (flushed before each test), one
PostgreSQL server (a database per test that asks), and RTSP servers that each test starts as it
needs and that stop when the test ends. Every test has a data folder of its own (its SQLite)."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from shared.embedded_redis import EmbeddedRedis, free_port
from tests.support import RtspServer, ServiceRun, gateway_answers, rtsp_server_missing, wait_until, web
from tests.support.browser import CHROMIUM
from tests.support.inprocess import ADMIN_PASSWORD
from tests.support.postgres import PostgresServer, postgres_bin, postgres_server
from tests.support.processes import stop_camera_processes


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Converted models go to a cache of the test session's own (so conversion is tested too)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CAMSTREAM_MODEL_CACHE_DIR", str(tmp_path_factory.mktemp("model-cache")))
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's processes share an SQLite database of the test's own, never a real one, whose
    first admin has the suite's password."""
    data = tmp_path / "data"
    monkeypatch.setenv("CAMSTREAM_DATA_DIR", str(data))
    monkeypatch.delenv("CAMSTREAM_DATABASE_URL", raising=False)
    monkeypatch.setenv("CAMSTREAM_ADMIN_PASSWORD", ADMIN_PASSWORD)  # the first admin of every test's gateway
    # Every camera, webhook receiver and broker of a test is on loopback, which the outbound deny-list
    # refuses by default: allowed here, as a user with a Home Assistant on the same host would; the
    # deny-list's own tests set it back to nothing.
    monkeypatch.setenv("CAMSTREAM_OUTBOUND_ALLOW", "127.0.0.0/8,::1/128")
    return data


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql); scripts/test.sh installs it")
    with postgres_server() as server:
        yield server


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, to crash and bring back (the fault tests)."""
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql); scripts/test.sh installs it")
    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A new, empty PostgreSQL database for this test."""
    return asyncio.run(postgres.create_database(f"test_{next(_DATABASES)}"))


_DATABASES = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each engine in turn: the storage tests run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'param' / 'camstream.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def private_redis() -> Iterator[EmbeddedRedis]:
    """A redis-server of one test's own, for tests that freeze or kill it."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def rdb(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    yield client
    client.close()


@pytest.fixture(scope="session")
def _rtsp_available() -> None:
    reason = rtsp_server_missing()
    if reason:
        pytest.skip(f"GStreamer RTSP server unavailable ({reason}); scripts/test.sh installs it")


@pytest.fixture(scope="session")
def chromium_available() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it where it can)")


@pytest.fixture
def rtsp_server(_rtsp_available: None) -> Iterator[Callable[..., RtspServer]]:
    """Start RTSP servers: rtsp_server(size="640x360", fps=15, refuse_login=False)."""
    servers: list[RtspServer] = []

    def start(**options: object) -> RtspServer:
        server = RtspServer(**options).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _process_fixture(module: str, redis_url: str, folder: Path) -> Iterator[Callable[..., ServiceRun]]:
    runs: list[ServiceRun] = []

    def start(cameras_file: Path | None, *args: str, env: dict[str, str] | None = None) -> ServiceRun:
        run = ServiceRun(module, redis_url, cameras_file, folder / f"{module}-{len(runs)}.log", *args, env=env)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop()
    if module == "ingest":  # camera processes outlive a killed manager (ingest.locks): none may outlive the test
        stop_camera_processes(Path(os.environ["CAMSTREAM_DATA_DIR"]))


@pytest.fixture
def ingest(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., ServiceRun]]:
    """Start `python -m ingest` processes against the test Redis; all stopped at the end."""
    yield from _process_fixture("ingest", redis_url, tmp_path)


@pytest.fixture
def gateway(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start `python -m gateway` on a free loopback port (against the test Redis, or `redis=URL`);
    returns its base URL once /healthz answers. `expected_error`: ERROR lines holding it are the test's."""
    runs: list[ServiceRun] = []
    bases: list[str] = []
    expected: dict[int, str] = {}

    def start(cameras_file: Path | None, env: dict[str, str] | None = None, redis: str | None = None,
              expected_error: str | None = None) -> str:  # fmt: skip
        port = free_port()
        run = ServiceRun("gateway", redis or redis_url, cameras_file, tmp_path / f"gateway-{len(runs)}.log",
                         "--host", "127.0.0.1", "--port", str(port), env=env)  # fmt: skip
        if expected_error:
            expected[len(runs)] = expected_error
        runs.append(run)
        base = f"http://127.0.0.1:{port}"
        # Not a promise of the product: a loaded 2-core machine took over 20 s to import the gateway.
        wait_until(lambda: gateway_answers(base), 60.0, what="the gateway to answer")
        bases.append(base)
        return base

    yield start
    for run in runs:
        run.stop()
    for base in bases:
        web.forget(base)
    # Viewers hanging up, bad input, Redis going away: none of it is an error of the gateway's.
    for i, run in enumerate(runs):
        errors = [line for line in run.log_text().splitlines() if " ERROR gateway[" in line or "Traceback" in line]
        errors = [line for line in errors if i not in expected or expected[i] not in line]
        assert not errors, f"the gateway logged errors: {errors[:5]}"


@pytest.fixture
def analyzer(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., ServiceRun]]:
    """Start `python -m analyzer` workers against the test Redis; all stopped at the end."""
    yield from _process_fixture("analyzer", redis_url, tmp_path)


@pytest.fixture
def recorder(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., ServiceRun]]:
    """Start `python -m recorder` processes (the recordings index and retention); all stopped at the end."""
    yield from _process_fixture("recorder", redis_url, tmp_path)


@pytest.fixture
def bridge(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., ServiceRun]]:
    """Start `python -m bridge` processes (MQTT, webhooks, notifications); all stopped at the end."""
    yield from _process_fixture("bridge", redis_url, tmp_path)
