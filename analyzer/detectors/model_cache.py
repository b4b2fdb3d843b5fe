"""Models converted once and kept on disk: the converted bytes under a name that holds what they
were converted from (a content hash, the input size, the converter's version), written so that
workers starting together never read half a file."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a file of this process's own beside `path`, then rename it over `path`."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)


def converted(cached: Path, what: str, convert: Callable[[], bytes]) -> bytes:
    """The bytes at `cached`, or `convert()`'s, kept there for next time."""
    if cached.exists():
        return cached.read_bytes()
    log.info("converting %s to ONNX (once) into %s", what, cached)
    model = convert()
    cached.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(cached, model)
    return model
