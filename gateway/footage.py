"""Footage wherever it is kept, for clips and purges. A segment's file is on this gateway's own disk
when it is indexed under this host's recordings (`Segment.host == settings.recordings_host`: "" for
the folder every host shares); otherwise its host's recorder serves it (recorder.serve), at the URL
that recorder last said (shared.db.recording_hosts), and it is fetched into the clip cache for the
cut, with a request signed by CAMSTREAM_SECRET_KEY (shared.footage_signing).

The fetch is blocking (a clip is made on a thread); the hosts' URLs are read before, asynchronously.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import recording_hosts
from shared.db.recordings import Segment
from shared.footage_signing import footage_key, signed
from shared.settings import Settings

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 10.0  # to connect, and between two reads
PURGE_TIMEOUT_S = 5.0


class Unreachable(Exception):
    """The footage is on a host this gateway cannot fetch it from: a 503 with this text."""


@dataclass(frozen=True, slots=True)
class FootageSource:
    """Where each segment's file can be read, for one clip (blocking: used on the clip's thread)."""

    root: Path  # this host's recordings
    host: str  # whose rows those are
    urls: dict[str, str]  # other hosts' recorders
    key: bytes | None

    def remote(self, segments: list[Segment]) -> bool:
        return any(s.host != self.host for s in segments)

    def files(self, segments: list[Segment], into: Path) -> Callable[[Segment], Path]:
        """Each segment's file: its own path here, or a copy fetched into `into`. A segment gone
        meanwhile (retention) maps to a path that does not exist, as a local one deleted would."""
        fetched: dict[int, Path] = {}
        remote = [s for s in segments if s.host != self.host]
        if remote:
            with httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as client:
                for segment in remote:
                    fetched[segment.id] = self._fetch(client, segment, into)
        return lambda segment: fetched.get(segment.id) or self.root / segment.path

    def _fetch(self, client: httpx.Client, segment: Segment, into: Path) -> Path:
        base = self.urls.get(segment.host)
        if base is None or self.key is None:
            where = f"host {segment.host!r}" if segment.host else "the shared recordings folder"
            raise Unreachable(f"camera {segment.camera_id}'s footage at {segment.start_ms / 1000:.0f} is on {where}, "
                              "which this gateway cannot read (its recorder has not said where it serves it, or "
                              "CAMSTREAM_SECRET_KEY is unset here)")  # fmt: skip
        path = "/footage/" + quote(segment.path)
        target = into / f"{segment.id}.mp4"
        try:
            headers = signed(self.key, "GET", path, time.time())
            with client.stream("GET", base.rstrip("/") + path, headers=headers) as got:
                if got.status_code == httpx.codes.NOT_FOUND:
                    return target  # deleted on that host meanwhile: skipped, as a local file gone is
                if got.status_code != httpx.codes.OK:
                    got.read()
                    raise Unreachable(f"host {segment.host!r} refused the footage ({got.status_code}: "
                                      f"{got.text[:200]})")  # fmt: skip
                with open(target, "wb") as out:
                    for chunk in got.iter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.HTTPError as e:
            raise Unreachable(f"host {segment.host!r}'s recorder at {base} did not answer ({type(e).__name__}): "
                              "its footage cannot be cut now") from None  # fmt: skip
        return target


class Footage:
    """The gateway's view of where footage is kept."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings, self.engine = settings, engine
        self.key = footage_key(settings.secret_key.get_secret_value()) if settings.secret_key else None

    async def source(self) -> FootageSource:
        hosts = await recording_hosts.every(self.engine)
        return FootageSource(self.settings.recordings_root, self.settings.recordings_host,
                             {name: h.url for name, h in hosts.items()}, self.key)  # fmt: skip

    async def purge(self, camera_id: int) -> list[str]:
        """Ask every other host's recorder to delete the camera's footage; the hosts that did not."""
        failed: list[str] = []
        hosts = await recording_hosts.every(self.engine)
        if self.key is None:  # no host serves footage without it (CAMSTREAM_RECORDINGS_URL needs it)
            return failed
        path = f"/footage/{camera_id}"
        async with httpx.AsyncClient(timeout=PURGE_TIMEOUT_S, follow_redirects=False) as client:
            for name, host in hosts.items():
                if name == self.settings.recordings_host:
                    continue
                try:
                    headers = signed(self.key, "DELETE", path, time.time())
                    answer = await client.delete(host.url.rstrip("/") + path, headers=headers)
                    ok = answer.status_code == httpx.codes.NO_CONTENT
                except httpx.HTTPError:
                    ok = False
                if not ok:
                    failed.append(name)
        if failed:
            log.warning("camera=%d purged, but its footage on %s was not deleted (their recorders did not answer): "
                        "delete %d/ in their recordings folders", camera_id, ", ".join(failed), camera_id)  # fmt: skip
        return failed
