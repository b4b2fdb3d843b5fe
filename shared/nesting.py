"""How deeply a JSON or YAML document nests, found without building it.

Parsers that build a document recurse once per level (Python's json, PyYAML's composer, our own
walks of a camera definition), so a document 20,000 levels deep is a RecursionError wherever it
lands. Every JSON body, signalling message and camera file is measured here first and refused
past MAX_DEPTH, with a message that says so.
"""

from __future__ import annotations

import re

import yaml

MAX_DEPTH = 64  # levels; a camera definition needs 5, a signalling message 3

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(data: bytes | str) -> int:
    """The deepest nesting of arrays and objects in JSON text; brackets inside strings do not count.
    Text that is not JSON is measured all the same (the parser says what is wrong with it)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    deepest = depth = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub(b"", raw)):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def yaml_too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether YAML text nests collections more than `limit` deep. PyYAML's parser is a state
    machine (no recursion), so its events are safe to count where composing is not; it stops at
    the first level past the limit. A YAML error is left for the loader to report."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limit:
                    return True
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return False
    return False
