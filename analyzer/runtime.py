"""onnxruntime sessions on the best provider present: CUDA when there is one, else CPU."""

from __future__ import annotations

import logging

import onnxruntime as ort

log = logging.getLogger(__name__)

PREFERRED = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def choose_providers(requested: str = "auto") -> list[str]:
    """`auto`: CUDA if onnxruntime has it, else CPU; or a provider name, which must be present."""
    available = ort.get_available_providers()
    if requested != "auto":
        if requested not in available:
            raise ValueError(f"onnxruntime provider {requested} is not available here (have: {', '.join(available)})")
        return [requested, "CPUExecutionProvider"] if requested != "CPUExecutionProvider" else [requested]
    return [p for p in PREFERRED if p in available]


def session(model: bytes | str, providers: list[str], threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # One worker process per core scales better than threads fighting over two cores.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    created = ort.InferenceSession(model, options, providers=providers)
    log.info("onnxruntime session on %s", created.get_providers()[0])
    return created
