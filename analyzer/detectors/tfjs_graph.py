"""Reading a TensorFlow.js graph model (`model.json` and its weight files) without TensorFlow.

A TF.js graph model is a TensorFlow GraphDef written as JSON (`modelTopology.node`: name, op,
inputs and attributes) whose constants live apart, concatenated in the weight files in the order
`weightsManifest` lists them; float weights may be stored as float16 (`quantization.dtype`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzer.detectors.tf_graph import GraphError

_DTYPES: dict[str, type[np.generic]] = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_STORED: dict[str, type[np.generic]] = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


@dataclass
class JsNode:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)  # AttrValue messages as JSON

    def attr_ints(self, name: str) -> list[int]:
        return [int(v) for v in self.attrs.get(name, {}).get("list", {}).get("i", [])]

    def attr_int(self, name: str, default: int) -> int:
        return int(self.attrs.get(name, {}).get("i", default))

    def attr_float(self, name: str, default: float) -> float:
        return float(self.attrs.get(name, {}).get("f", default))

    def attr_bool(self, name: str) -> bool:
        return bool(self.attrs.get(name, {}).get("b", False))

    def attr_string(self, name: str) -> str:
        """String attributes are base64 in JSON (`"TkhXQw=="` is NHWC)."""
        raw = self.attrs.get(name, {}).get("s")
        return base64.b64decode(raw).decode() if raw else ""


@dataclass
class JsGraph:
    nodes: dict[str, JsNode]  # in the graph's order
    weights: dict[str, np.ndarray]  # constants by node name, float16 widened to float32
    inputs: dict[str, list[int]]  # placeholder name -> shape
    outputs: list[str]  # the signature's output nodes, in their numbered order


def read_graph(model_json: bytes, weight_files: dict[str, bytes]) -> JsGraph:
    """The graph and its constants. `weight_files` maps each file named in the manifest to its bytes."""
    try:
        model = json.loads(model_json)
        topology = model["modelTopology"]["node"]
        manifest = model["weightsManifest"]
    except (ValueError, KeyError, TypeError) as e:
        raise GraphError(f"not a TF.js graph model: {e}") from e
    if model.get("format") != "graph-model":
        raise GraphError(f"not a TF.js graph model (format {model.get('format')!r})")
    nodes = {
        n["name"]: JsNode(
            n["name"], n["op"], [i for i in n.get("input", []) if not i.startswith("^")], n.get("attr", {})
        )
        for n in topology
    }
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        try:
            data = b"".join(weight_files[path] for path in group["paths"])
        except KeyError as e:
            raise GraphError(f"the weight file {e} is missing") from e
        at = 0
        for spec in group["weights"]:
            array, at = _weight(spec, data, at)
            weights[spec["name"]] = array
        if at != len(data):
            raise GraphError(f"weight files {group['paths']} hold {len(data)} bytes, the manifest {at}")
    inputs = {
        node.name: [int(d.get("size", -1)) for d in node.attrs.get("shape", {}).get("shape", {}).get("dim", [])]
        for node in nodes.values()
        if node.op == "Placeholder"
    }
    signature = model.get("signature", {}).get("outputs", {})
    outputs = sorted((name.split(":")[0] for name in signature), key=_numbered)
    return JsGraph(nodes, weights, inputs, outputs)


def _weight(spec: dict[str, Any], data: bytes, at: int) -> tuple[np.ndarray, int]:
    shape = [int(d) for d in spec["shape"]]
    count = int(np.prod(shape)) if shape else 1
    dtype = _DTYPES.get(spec["dtype"])
    if dtype is None:
        raise GraphError(f"weight {spec['name']}: unsupported dtype {spec['dtype']}")
    quantization = spec.get("quantization")
    if quantization is None:
        stored: type[np.generic] = dtype
    elif quantization.get("dtype") == "float16":
        stored = np.float16
    else:  # uint8/uint16 affine quantization: value = min + q * scale
        stored = _STORED.get(quantization.get("dtype", ""), np.uint8)
    size = count * np.dtype(stored).itemsize
    if at + size > len(data):
        raise GraphError(f"weight {spec['name']} runs past the end of the weight files")
    array = np.frombuffer(data, stored, count=count, offset=at).reshape(shape)
    if quantization is not None and quantization.get("dtype") != "float16":
        array = quantization["min"] + array.astype(np.float32) * quantization["scale"]
    return array.astype(dtype), at + size


def _numbered(name: str) -> tuple[str, int]:
    """`Identity` before `Identity_1` before `Identity_10`."""
    base, _, number = name.rpartition("_")
    return (base, int(number)) if number.isdigit() else (name, -1)
