"""Reading a TensorFlow frozen graph (GraphDef protobuf) without TensorFlow.

Only what converting a convolutional detector needs: nodes with their op, inputs and
attributes, and constant tensors. Protobuf's wire format is parsed directly (it is a
sequence of tagged fields), so neither TensorFlow nor its generated classes are needed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_DTYPES = {1: np.float32, 3: np.int32, 9: np.int64}  # TensorFlow DataType enum values we meet


class GraphError(ValueError):
    """The graph is not one this converter understands."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def wire_fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message: ints for varints, bytes otherwise."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = data[at : at + size], at + size
        elif wire == 1:
            value, at = data[at : at + 8], at + 8
        elif wire == 5:
            value, at = data[at : at + 4], at + 4
        else:
            raise GraphError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, bytes] = field(default_factory=dict)  # raw AttrValue messages

    def attr_ints(self, name: str) -> list[int]:
        values: list[int] = []
        for number, wire, value in wire_fields(self.attrs.get(name, b"")):
            if number == 1:  # list
                for inner, inner_wire, item in wire_fields(value):
                    if inner == 3 and inner_wire == 0:
                        values.append(item)
                    elif inner == 3:  # packed
                        at = 0
                        while at < len(item):
                            one, at = _varint(item, at)
                            values.append(one)
            elif number == 3 and wire == 0:
                values.append(value)
        return values

    def attr_string(self, name: str) -> str:
        return next((v.decode() for n, _, v in wire_fields(self.attrs.get(name, b"")) if n == 2), "")

    def attr_float(self, name: str, default: float) -> float:
        for number, wire, value in wire_fields(self.attrs.get(name, b"")):
            if number == 4 and wire == 5:
                return float(struct.unpack("<f", value)[0])
        return default

    def tensor(self) -> np.ndarray:
        """The value of a Const node."""
        raw = next((v for n, _, v in wire_fields(self.attrs.get("value", b"")) if n == 8), None)
        if raw is None:
            raise GraphError(f"node {self.name} holds no tensor")
        return _tensor(raw)


def _tensor(raw: bytes) -> np.ndarray:
    dtype_code, shape, content, floats, ints = 1, [], b"", [], []
    for number, wire, value in wire_fields(raw):
        if number == 1:
            dtype_code = value
        elif number == 2:
            shape = [next(v for n, _, v in wire_fields(dim) if n == 1) if dim else 0
                     for n, _, dim in wire_fields(value) if n == 2]  # fmt: skip
        elif number == 4:
            content = value
        elif number == 5:
            floats += (
                list(struct.unpack(f"<{len(value) // 4}f", value)) if wire == 2 else [struct.unpack("<f", value)[0]]
            )
        elif number == 7:
            ints.append(value) if wire == 0 else ints.extend(_packed(value))
    dtype = _DTYPES.get(dtype_code)
    if dtype is None:
        raise GraphError(f"unsupported tensor dtype {dtype_code}")
    size = int(np.prod(shape)) if shape else 1
    if content:
        return np.frombuffer(content, dtype).reshape(shape).copy()
    values = floats or ints
    if len(values) == 1 and size > 1:
        values = values * size
    return np.array(values, dtype).reshape(shape)


def _packed(data: bytes) -> list[int]:
    values, at = [], 0
    while at < len(data):
        value, at = _varint(data, at)
        values.append(value)
    return values


def read_graph(data: bytes) -> dict[str, Node]:
    """Nodes by name, in the graph's (topological) order."""
    nodes: dict[str, Node] = {}
    for number, _, raw in wire_fields(data):
        if number != 1:
            continue
        node = Node(name="", op="")
        for inner, _, value in wire_fields(raw):
            if inner == 1:
                node.name = value.decode()
            elif inner == 2:
                node.op = value.decode()
            elif inner == 3:
                node.inputs.append(value.decode())
            elif inner == 5:
                entry = dict((n, v) for n, _, v in wire_fields(value))
                node.attrs[entry[1].decode()] = entry.get(2, b"")
        nodes[node.name] = node
    return nodes


def ancestors(nodes: dict[str, Node], outputs: list[str], stop_at: str) -> list[Node]:
    """Every node the outputs depend on, in graph order, not looking past `stop_at`."""
    wanted: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name in wanted:
            continue
        if name not in nodes:
            raise GraphError(f"node {name} is not in the graph")
        wanted.add(name)
        if name != stop_at:
            stack.extend(tensor_name(i) for i in nodes[name].inputs if not i.startswith("^"))
    return [node for name, node in nodes.items() if name in wanted]


def tensor_name(reference: str) -> str:
    """`node:0` and `node` both name the node's first output."""
    return reference.split(":", maxsplit=1)[0]
