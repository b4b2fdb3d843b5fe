"""Convert the convolutional part of a TensorFlow frozen graph to ONNX, for onnxruntime.

Handles the ops of MobileNet-style backbones and SSD box-predictor heads: Conv2D,
DepthwiseConv2dNative, FusedBatchNorm, BiasAdd, Relu6, Relu, Add and Identity. The graph
is cut at an input node (which becomes an NCHW float input) and at the named outputs;
anything else in between is an error naming the op. Tensors stay NCHW throughout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from analyzer.detectors.tf_graph import GraphError, Node, ancestors, read_graph, tensor_name

OPSET = 13


def convert(graph_bytes: bytes, input_node: str, outputs: list[str], input_hw: tuple[int, int]) -> bytes:
    nodes = read_graph(graph_bytes)
    order = ancestors(nodes, outputs, stop_at=input_node)
    builder = _Builder(nodes)
    builder.alias[input_node] = "image"
    for node in order:
        if node.name != input_node:
            builder.add(node)
    graph = helper.make_graph(
        builder.onnx_nodes,
        "camstream_detector",
        # The batch is left open: a frame's tiles (or several frames) go through in one call.
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, *input_hw])],
        [
            helper.make_tensor_value_info(builder.alias[o], TensorProto.FLOAT, ["batch", None, None, None])
            for o in outputs
        ],
        initializer=builder.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="camstream")
    model.ir_version = 8
    onnx.checker.check_model(model)
    serialized: bytes = model.SerializeToString()
    return serialized


class _Builder:
    def __init__(self, nodes: dict[str, Node]) -> None:
        self.nodes = nodes
        self.alias: dict[str, str] = {}  # TensorFlow node -> ONNX tensor
        self.constants: dict[str, np.ndarray] = {}
        self.onnx_nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def _const(self, reference: str) -> np.ndarray:
        name = tensor_name(reference)
        while name not in self.constants and self.nodes[name].op == "Identity":
            name = tensor_name(self.nodes[name].inputs[0])
        if name not in self.constants:
            raise GraphError(f"{reference} should be a constant")
        return self.constants[name]

    def _initializer(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def _input(self, reference: str) -> str:
        return self.alias[tensor_name(reference)]

    def add(self, node: Node) -> None:
        name, inputs = node.name, node.inputs
        match node.op:
            case "Const":
                self.constants[name] = node.tensor()
            case "Identity":
                if tensor_name(inputs[0]) in self.alias:
                    self.alias[name] = self._input(inputs[0])
            case "Conv2D" | "DepthwiseConv2dNative":
                self._conv(node)
            case "FusedBatchNorm" | "FusedBatchNormV3":
                params = [self._initializer(f"{name}/{p}", self._const(i))
                          for p, i in zip(("scale", "bias", "mean", "var"), inputs[1:5], strict=True)]  # fmt: skip
                self._emit("BatchNormalization", [self._input(inputs[0]), *params], name,
                           epsilon=node.attr_float("epsilon", 1e-3))  # fmt: skip
            case "BiasAdd":
                bias = self._const(inputs[1]).reshape(1, -1, 1, 1)
                self._emit("Add", [self._input(inputs[0]), self._initializer(f"{name}/bias", bias)], name)
            case "Relu6":
                low = self._initializer(f"{name}/min", np.array(0.0))
                high = self._initializer(f"{name}/max", np.array(6.0))
                self._emit("Clip", [self._input(inputs[0]), low, high], name)
            case "Relu":
                self._emit("Relu", [self._input(inputs[0])], name)
            case "Add" | "AddV2":
                self._emit("Add", [self._input(inputs[0]), self._input(inputs[1])], name)
            case other:
                raise GraphError(f"cannot convert op {other} (node {name})")

    def _conv(self, node: Node) -> None:
        weights = self._const(node.inputs[1])  # HWIO, or HW C M for depthwise
        if node.attr_string("data_format") not in ("", "NHWC"):
            raise GraphError(f"{node.name}: only NHWC graphs are supported")
        if node.op == "DepthwiseConv2dNative":
            kh, kw, channels, multiplier = weights.shape
            kernel = weights.reshape(kh, kw, channels * multiplier).transpose(2, 0, 1)[:, None]
            group = channels
        else:
            kernel, group = weights.transpose(3, 2, 0, 1), 1
        strides = node.attr_ints("strides") or [1, 1, 1, 1]
        dilations = node.attr_ints("dilations") or [1, 1, 1, 1]
        # TensorFlow's SAME puts the odd pixel of padding at the end, as ONNX's SAME_UPPER does.
        padding = {"SAME": "SAME_UPPER", "VALID": "VALID"}[node.attr_string("padding")]
        self._emit(
            "Conv", [self._input(node.inputs[0]), self._initializer(f"{node.name}/kernel", kernel)], node.name,
            strides=strides[1:3], dilations=dilations[1:3], group=group, auto_pad=padding,
            kernel_shape=list(kernel.shape[2:]),
        )  # fmt: skip

    def _emit(self, op: str, inputs: list[str], name: str, **attributes: Any) -> None:
        self.onnx_nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        self.alias[name] = name
