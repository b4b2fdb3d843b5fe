"""The tamper detector's reference view of a camera, as kept in Redis between workers
(keys.tamper_reference): a msgpack map, versioned like every message (shared.messages)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import msgpack

from shared.messages import MessageError, check_version, malformed, require_field, unpack_map

VERSION = 1
KIND = "tamper reference"


@dataclass(frozen=True)
class TamperReference:
    small: bytes  # 36x64 float32 grey, row by row
    mean: float
    saturated: float
    sharpness: float
    block_cv: bytes  # 32 float32
    since_s: float  # when the view was first learnt
    relearned_at_s: float  # the owner's last "new normal" it follows (keys.tamper_relearn); 0: none

    def encode(self) -> bytes:
        packed: bytes = msgpack.packb({**asdict(self), "v": VERSION}, use_bin_type=True)
        return packed

    @classmethod
    def decode(cls, data: bytes) -> TamperReference:
        fields: dict[str, Any] = unpack_map(data, KIND)
        with malformed(KIND):
            check_version(fields, KIND, VERSION)
            record = cls(
                small=require_field(fields, "small", bytes),
                mean=float(require_field(fields, "mean", (int, float))),
                saturated=float(require_field(fields, "saturated", (int, float))),
                sharpness=float(require_field(fields, "sharpness", (int, float))),
                block_cv=require_field(fields, "block_cv", bytes),
                since_s=float(require_field(fields, "since_s", (int, float))),
                relearned_at_s=float(require_field(fields, "relearned_at_s", (int, float))),
            )
        if len(record.small) != 36 * 64 * 4 or len(record.block_cv) != 32 * 4:
            raise MessageError(f"{KIND}: arrays of the wrong size")
        return record
