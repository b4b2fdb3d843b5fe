"""Convert a TF.js graph model (analyzer.detectors.tfjs_graph) to ONNX, for onnxruntime, at any input size.

Handles the ops of detectors that went PyTorch -> ONNX -> TensorFlow -> TF.js (NanoDet's):
Conv2D and MaxPool in NHWC (wrapped in transposes, which onnxruntime's optimiser cancels against
the graph's own), Pad/PadV2, LeakyRelu, Relu, Relu6, Sigmoid, Add/AddV2/Mul/Sub, ConcatV2,
SplitV, Reshape, Transpose, ResizeBilinear and Identity. Nodes whose inputs are all constant
(SparseToDense, Cast, shape arithmetic) are computed here. Anything else is an error naming the op.

The graph was exported for one input size. To run it at another, the sizes baked into it are
rewritten: upsampling becomes a scale (the factor it had at the exported size) and reshapes keep
the batch (0) and infer the flattened spatial size (-1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

from analyzer.detectors.tf_graph import GraphError, tensor_name
from analyzer.detectors.tfjs_graph import JsGraph, JsNode

OPSET = 13
_NCHW, _NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def convert(graph: JsGraph, input_hw: tuple[int, int], mean: list[float], std: list[float]) -> bytes:
    """The model with a float32 input `image` [batch, 3, H, W] of raw pixel values (the graph's
    own channel order), normalised inside the model as (x - mean) / std per channel; its outputs
    are the signature's, in order."""
    if len(graph.inputs) != 1:
        raise GraphError(f"the graph has {len(graph.inputs)} inputs, one expected")
    ((input_name, native_shape),) = graph.inputs.items()
    if len(native_shape) != 4 or native_shape[1] != 3:
        raise GraphError(f"input {input_name} is {native_shape}, [1, 3, H, W] expected")
    native = _build(graph, input_name, (native_shape[2], native_shape[3]), mean, std)
    return _resized(native, input_hw)


def _build(
    graph: JsGraph, input_name: str, hw: tuple[int, int], mean: list[float], std: list[float]
) -> onnx.ModelProto:
    builder = _Builder(graph)
    scale = np.array(1 / np.asarray(std), np.float32).reshape(1, 3, 1, 1)
    shift = np.array(-np.asarray(mean) / np.asarray(std), np.float32).reshape(1, 3, 1, 1)
    builder.emit("Mul", ["image", builder.initializer("input/scale", scale)], "input/scaled")
    builder.emit("Add", ["input/scaled", builder.initializer("input/shift", shift)], input_name)
    for node in graph.nodes.values():
        if node.op not in ("Placeholder", "NoOp"):
            builder.add(node)
    outputs = [builder.tensor(name) for name in graph.outputs]
    model = helper.make_model(
        helper.make_graph(
            builder.onnx_nodes,
            "camstream_detector",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, *hw])],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", None, None]) for o in outputs],
            initializer=builder.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="camstream",
    )
    model.ir_version = 8
    return model


def _resized(model: onnx.ModelProto, input_hw: tuple[int, int]) -> bytes:
    """The model with an open batch and the given input size: shapes inferred at the exported
    size turn each Resize's target size into a scale and each Reshape's sizes into 0/-1."""
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in inferred.graph.value_info}
    initializers = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Resize":
            source = shapes[node.input[0]]
            sizes = numpy_helper.to_array(initializers[node.input[3]])
            scales = np.array([1, 1, *(np.asarray(sizes[2:]) / np.asarray(source[2:]))], np.float32)
            initializers[node.input[2]].CopyFrom(numpy_helper.from_array(scales, node.input[2]))
            model.graph.initializer.remove(initializers.pop(node.input[3]))
            del node.input[3]
        elif node.op_type == "Reshape":
            target = numpy_helper.to_array(initializers[node.input[1]]).copy()
            source = shapes[node.input[0]]
            if len(target) >= 2 and target[0] == 1 == source[0]:
                target[0] = 0  # the batch, whatever it is
            spatial = [i for i, v in enumerate(target) if v > 1 and v not in source]
            if len(spatial) == 1:
                target[spatial[0]] = -1  # a flattened H*W
            initializers[node.input[1]].CopyFrom(numpy_helper.from_array(target, node.input[1]))
    image = model.graph.input[0].type.tensor_type.shape
    image.dim[0].dim_param = "batch"
    image.dim[2].dim_value, image.dim[3].dim_value = input_hw
    onnx.checker.check_model(model)
    serialized: bytes = model.SerializeToString()
    return serialized


class _Builder:
    def __init__(self, graph: JsGraph) -> None:
        self.graph = graph
        self.constants: dict[str, np.ndarray] = dict(graph.weights)
        self.alias: dict[str, str] = {}  # TF tensor reference -> ONNX tensor
        self.onnx_nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def tensor(self, reference: str) -> str:
        name, _, index = reference.partition(":")
        key = name if index in ("", "0") else f"{name}:{index}"
        if key not in self.alias:
            if key in self.constants:
                return self.initializer(key, self.constants[key])
            raise GraphError(f"{reference} is used before it is computed")
        return self.alias[key]

    def const(self, reference: str) -> np.ndarray:
        name = tensor_name(reference)
        if name not in self.constants:
            raise GraphError(f"{reference} should be a constant")
        return self.constants[name]

    def initializer(self, name: str, value: np.ndarray) -> str:
        if name not in self.alias:
            array = value.astype(np.int64) if value.dtype.kind in "iu" else value.astype(np.float32)
            self.initializers.append(numpy_helper.from_array(array, name))
            self.alias[name] = name
        return self.alias[name]

    def emit(self, op: str, inputs: list[str], name: str, outputs: int = 1, **attributes: Any) -> None:
        names = [name] + [f"{name}:{i}" for i in range(1, outputs)]
        self.onnx_nodes.append(helper.make_node(op, inputs, names, name=name, **attributes))
        for output in names:
            self.alias[output] = output

    def add(self, node: JsNode) -> None:
        if node.op == "Const" or all(tensor_name(i) in self.constants for i in node.inputs):
            if node.name not in self.constants:
                self.constants[node.name] = _fold(node, [self.const(i) for i in node.inputs])
            return
        self._dynamic(node)

    def _dynamic(self, node: JsNode) -> None:  # noqa: PLR0912 - one case per op reads best
        name, inputs = node.name, node.inputs
        first = self.tensor(inputs[0])
        match node.op:
            case "Identity":
                self.alias[name] = first
            case "Conv2D":
                self._conv(node, first)
            case "MaxPool":
                self._nhwc(node, first, "MaxPool", kernel_shape=node.attr_ints("ksize")[1:3])
            case "Pad" | "PadV2":
                paddings = self.const(inputs[1]).astype(np.int64)
                pads = self.initializer(f"{name}/pads", np.concatenate([paddings[:, 0], paddings[:, 1]]))
                value = [self.initializer(f"{name}/value", self.const(inputs[2]))] if node.op == "PadV2" else []
                self.emit("Pad", [first, pads, *value], name)
            case "LeakyRelu":
                self.emit("LeakyRelu", [first], name, alpha=node.attr_float("alpha", 0.2))
            case "Relu" | "Sigmoid":
                self.emit(node.op, [first], name)
            case "Relu6":
                low, high = (
                    self.initializer(f"{name}/{n}", np.array(v, np.float32)) for n, v in (("min", 0), ("max", 6))
                )
                self.emit("Clip", [first, low, high], name)
            case "Add" | "AddV2" | "Mul" | "Sub":
                op = {"AddV2": "Add"}.get(node.op, node.op)
                self.emit(op, [first, self.tensor(inputs[1])], name)
            case "ConcatV2":
                axis = int(self.const(inputs[-1]))
                self.emit("Concat", [self.tensor(i) for i in inputs[:-1]], name, axis=axis)
            case "SplitV":
                sizes = self.initializer(f"{name}/sizes", self.const(inputs[1]))
                self.emit(
                    "Split",
                    [first, sizes],
                    name,
                    outputs=node.attr_int("num_split", 1),
                    axis=int(self.const(inputs[2])),
                )
            case "Reshape":
                self.emit("Reshape", [first, self.initializer(f"{name}/shape", self.const(inputs[1]))], name)
            case "Transpose":
                self.emit("Transpose", [first], name, perm=[int(v) for v in self.const(inputs[1])])
            case "ResizeBilinear":
                self._resize(node, first)
            case other:
                raise GraphError(f"cannot convert op {other} (node {name})")

    def _nhwc(self, node: JsNode, source: str, op: str, inputs: tuple[str, ...] = (), **attributes: Any) -> None:
        """An NCHW ONNX op on the NHWC tensor TensorFlow had: transposed in and back out."""
        if node.attr_string("data_format") not in ("", "NHWC"):
            raise GraphError(f"{node.name}: only NHWC graphs are supported")
        strides = node.attr_ints("strides") or [1, 1, 1, 1]
        padding = node.attr_string("padding")
        if padding not in ("SAME", "VALID"):
            raise GraphError(f"{node.name}: padding {padding!r} is not supported")
        # TensorFlow's SAME puts the odd pixel of padding at the end, as ONNX's SAME_UPPER does.
        auto_pad = {"SAME": "SAME_UPPER", "VALID": "VALID"}[padding]
        self.emit("Transpose", [source], f"{node.name}/nchw", perm=_NCHW)
        self.emit(op, [f"{node.name}/nchw", *inputs], f"{node.name}/op", strides=strides[1:3], auto_pad=auto_pad,
                  **attributes)  # fmt: skip
        self.emit("Transpose", [f"{node.name}/op"], node.name, perm=_NHWC)

    def _conv(self, node: JsNode, source: str) -> None:
        weights = self.const(node.inputs[1])  # HWIO
        kernel = self.initializer(f"{node.name}/kernel", weights.transpose(3, 2, 0, 1))
        dilations = node.attr_ints("dilations") or [1, 1, 1, 1]
        self._nhwc(node, source, "Conv", (kernel,), dilations=dilations[1:3], kernel_shape=list(weights.shape[:2]))

    def _resize(self, node: JsNode, source: str) -> None:
        if node.attr_bool("align_corners"):
            raise GraphError(f"{node.name}: align_corners is not supported")
        mode = "half_pixel" if node.attr_bool("half_pixel_centers") else "asymmetric"
        size = self.const(node.inputs[1]).astype(np.int64)
        self.emit("Transpose", [source], f"{node.name}/nchw", perm=_NCHW)
        roi = self.initializer(f"{node.name}/roi", np.zeros(0, np.float32))
        scales = self.initializer(f"{node.name}/scales", np.zeros(0, np.float32))
        sizes = self.initializer(f"{node.name}/sizes", np.array([1, 1, *size], np.int64))
        self.emit("Resize", [f"{node.name}/nchw", roi, scales, sizes], f"{node.name}/op", mode="linear",
                  coordinate_transformation_mode=mode)  # fmt: skip
        self.emit("Transpose", [f"{node.name}/op"], node.name, perm=_NHWC)


def _fold(node: JsNode, values: list[np.ndarray]) -> np.ndarray:  # noqa: PLR0911 - one case per op
    """A node whose inputs are all constant, computed now."""
    match node.op:
        case "Const":
            raise GraphError(f"constant {node.name} has no value in the weight files")
        case "Identity" | "Cast":
            return values[0]
        case "Add" | "AddV2":
            return np.asarray(values[0] + values[1])
        case "Sub":
            return np.asarray(values[0] - values[1])
        case "Mul":
            return np.asarray(values[0] * values[1])
        case "SparseToDense":
            indices, shape, updates, default = values
            dense = np.full(shape.astype(np.int64), default, dtype=updates.dtype if updates.size else default.dtype)
            rows = indices.reshape(len(indices), max(1, len(shape))) if indices.size else np.zeros((0, 1), np.int64)
            for index, value in zip(rows, np.broadcast_to(updates, len(rows)), strict=True):
                dense[tuple(index)] = value
            return dense
        case "ConcatV2":
            return np.concatenate(values[:-1], axis=int(values[-1]))
        case "Reshape":
            return values[0].reshape(values[1].astype(np.int64))
        case "Transpose":
            return values[0].transpose(values[1].astype(np.int64))
        case other:
            raise GraphError(f"cannot compute op {other} on constants (node {node.name})")
