"""Where to look for people: the full frame's tiles, or only those strips of it that moved.

The person detector reads a frame as side-by-side tiles of its full height (analyzer.detectors.persons).
When everything that moved fits in one tile's width, one tile placed over it is enough: the
person is seen at the same scale as in a full pass (so the model's accuracy holds), for half the
cost. A full pass still runs every so often (CAMSTREAM_ANALYZER_FULL_FRAME_S), so a person who
stands still is looked at too, and the tracker only counts a miss for a track it looked at.
Pure: boxes in, tiles out.
"""

from __future__ import annotations

from analyzer.detectors.persons import tiles

Box = tuple[int, int, int, int]  # x, y, w, h

MARGIN = 0.25  # of the frame's height, on each side of what moved: a limb moves, the body is beside it


def tiles_for_motion(moved: list[Box], width: int, height: int, count: int) -> list[Box] | None:
    """One tile of the full-frame tiles' size centred on what moved, or None when what moved (with
    its margin) is wider than one tile: then the full frame's tiles are needed."""
    full = tiles(width, height, count)
    if count <= 1 or not moved:
        return None
    tile_w = full[0][2]
    margin = MARGIN * height
    left = max(0.0, min(x for x, _y, _w, _h in moved) - margin)
    right = min(float(width), max(x + w for x, _y, w, _h in moved) + margin)
    if right - left > tile_w:
        return None
    x = round(min(max(0.0, (left + right - tile_w) / 2), width - tile_w))
    return [(x, 0, tile_w, height)]


class LookSchedule:
    """When to read the whole frame and when only what moved: the whole frame when nothing moved,
    when what moved does not fit one tile, and at least every `full_frame_s` (0: always)."""

    def __init__(self, full_frame_s: float) -> None:
        self.full_frame_s = full_frame_s
        self._last_full_s = float("-inf")

    def regions(self, moved: list[Box], width: int, height: int, count: int, t_s: float) -> list[Box] | None:
        """The tile to read now, or None for the whole frame (`count`: the full frame's tiles)."""
        regions = None
        if t_s - self._last_full_s < self.full_frame_s:
            regions = tiles_for_motion(moved, width, height, count)
        if regions is None:
            self._last_full_s = t_s
        return regions
