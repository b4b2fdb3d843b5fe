"""Which ingest host runs which camera: a camera's weight, and the plan every host computes alike.

Every ingest manager reads the same things from Redis (the live hosts and their groups, who holds
each camera's lease, the size each camera was last decoded at) and computes the same plan from
them, so hosts agree without talking. The plan is sticky: a camera stays where it runs unless its
host is gone, no longer in its group, or carries clearly more than another host could (then the
fewest cameras move that even the load out). A host that returns takes load back in one move, and
nothing moves back and forth while the hosts stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.cameras import Camera

# Weights are estimated per cent of a core, from docs/benchmarks.md on the 2-core machine: decoding
# 1080p15 costs 8.9 %, 720p15 5.1 %; relaying and recording a main stream beside a decoded detect stream ~1 %.
FULL_HD_15 = 1920 * 1080 * 15.0
DECODE_FULL_HD_15 = 8.9
BASE = 0.5  # a camera's process at rest: status, reconnects, a recording's segments
RELAY = 1.0  # the main stream read apart from the decoded detect stream, relayed and recorded
UNKNOWN_SIZE = (1280, 720)  # until the camera has been decoded once somewhere
HYSTERESIS = 0.5  # a move must leave the two hosts closer by at least this much (per cent of a core)


def weight(camera: Camera, size: tuple[int, int] | None) -> float:
    """The camera's cost to a host, in estimated per cent of a core: its own `ingest.weight` if set,
    else from the size its decoded stream was last seen at (`size`) and its rate."""
    if camera.ingest.weight is not None:
        return camera.ingest.weight
    width, height = size or UNKNOWN_SIZE
    decoded = DECODE_FULL_HD_15 * width * height * camera.fps / FULL_HD_15
    return round(BASE + decoded + (RELAY if camera.detect_source is not None else 0.0), 2)


@dataclass(frozen=True)
class Want:
    """A camera to place: its weight and the group of hosts that may run it (None: any)."""

    weight: float
    group: str | None = None


def eligible(want: Want, host_group: str | None) -> bool:
    """A grouped camera runs only on its group's hosts; any host runs a camera without a group."""
    return want.group is None or want.group == host_group


def plan(wants: dict[int, Want], hosts: dict[str, str | None], holders: dict[int, str]) -> dict[int, str]:
    """Camera id -> host name, for every camera some live host may run (the rest are left out).

    `hosts`: the live hosts and their groups; `holders`: who holds each camera's lease now."""
    placed: dict[int, str] = {}
    load = dict.fromkeys(hosts, 0.0)
    for camera in sorted(wants):  # kept where they run
        holder = holders.get(camera)
        if holder in hosts and eligible(wants[camera], hosts[holder]):
            placed[camera] = holder
            load[holder] += wants[camera].weight
    # The rest, heaviest first, each to the least loaded host that may take it.
    for camera in sorted((c for c in wants if c not in placed), key=lambda c: (-wants[c].weight, c)):
        choices = [h for h in hosts if eligible(wants[camera], hosts[h])]
        if choices:
            host = min(choices, key=lambda h: (load[h], h))
            placed[camera] = host
            load[host] += wants[camera].weight
    _even_out(wants, hosts, placed, load)
    return placed


def _even_out(wants: dict[int, Want], hosts: dict[str, str | None], placed: dict[int, str],
              load: dict[str, float]) -> None:  # fmt: skip
    """Move cameras from heavier to lighter hosts while a move brings the pair closer by HYSTERESIS."""
    for _ in range(len(placed) + 1):  # each move lowers the spread: a bound, not a loop that spins
        move = _best_move(wants, hosts, placed, load)
        if move is None:
            return
        camera, to = move
        load[placed[camera]] -= wants[camera].weight
        load[to] += wants[camera].weight
        placed[camera] = to


def _best_move(wants: dict[int, Want], hosts: dict[str, str | None], placed: dict[int, str],
               load: dict[str, float]) -> tuple[int, str] | None:  # fmt: skip
    """The move that evens the most: from the heaviest host that has one, the heaviest camera that
    still fits in the gap, to the lightest host that may take it."""
    by_load = sorted(hosts, key=lambda h: (-load[h], h))
    for heavy in by_load:
        for light in reversed(by_load):
            gap = load[heavy] - load[light]
            if gap <= HYSTERESIS:
                break
            fits = [c for c, h in placed.items()
                    if h == heavy and eligible(wants[c], hosts[light])
                    and wants[c].weight <= gap - HYSTERESIS]  # fmt: skip
            if fits:
                return max(fits, key=lambda c: (wants[c].weight, -c)), light
    return None
