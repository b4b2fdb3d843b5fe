"""Where the person model runs: CUDA through onnxruntime when there is one, else onnxruntime's CPU
provider; or, when asked for (`OpenVINO`), the OpenVINO runtime on the CPU.

OpenVINO computes at the CPU's own precision: bfloat16 on CPUs that have it (AVX512-BF16, AMX),
where it runs the SSDLite pedestrian model 1.7x faster than onnxruntime at one thread, at a small
cost in accuracy (TUD-Campus AP 0.815 against 0.825), so it is chosen, not the default; in float32
it is no faster than onnxruntime here (docs/analyzer.md). Both answer the same small interface
(`Model`), so the detectors do not care which runs.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

OPENVINO = "OpenVINO"  # our name for the OpenVINO runtime's CPU device (not an onnxruntime provider)
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


class Model(Protocol):
    provider: str
    input_name: str
    input_shape: list[Any]  # dimensions; an open one is a name or None

    def run(self, blob: np.ndarray) -> list[np.ndarray]: ...


def openvino_present() -> bool:
    return importlib.util.find_spec("openvino") is not None


def choose_providers(requested: str = "auto") -> list[str]:
    """`auto`: CUDA if onnxruntime has it, else onnxruntime's CPU; or a name (an onnxruntime
    provider, or `OpenVINO` with the `openvino` extra installed), which must be present."""
    available = ort.get_available_providers() + ([OPENVINO] if openvino_present() else [])
    if requested != "auto":
        if requested not in available:
            raise ValueError(f"inference provider {requested} is not available here (have: {', '.join(available)})")
        return [requested, CPU] if requested != CPU else [requested]
    return [p for p in (CUDA, CPU) if p in available]


class OrtModel:
    def __init__(self, model: bytes | str, providers: list[str], threads: int) -> None:
        options = ort.SessionOptions()
        # One worker process per core scales better than threads fighting over two cores.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(model, options, providers=providers)
        self.provider: str = self._session.get_providers()[0]
        self.input_name: str = self._session.get_inputs()[0].name
        self.input_shape: list[Any] = list(self._session.get_inputs()[0].shape)

    def run(self, blob: np.ndarray) -> list[np.ndarray]:
        return list(self._session.run(None, {self.input_name: blob}))


class OpenVinoModel:
    def __init__(self, model: bytes | str, threads: int) -> None:
        import openvino as ov  # noqa: PLC0415  (optional: imported only when chosen)

        core = ov.Core()
        read = core.read_model(model)
        self.input_name = read.inputs[0].get_any_name()
        self.input_shape = [d.get_length() if d.is_static else None for d in read.inputs[0].get_partial_shape()]
        self._outputs = list(read.outputs)
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            # Pinned threads would stack the workers of one host on the same cores.
            "ENABLE_CPU_PINNING": False,
        }
        self._compiled = core.compile_model(read, "CPU", config)
        self._request = self._compiled.create_infer_request()
        self.provider = OPENVINO

    def run(self, blob: np.ndarray) -> list[np.ndarray]:
        results = self._request.infer({0: blob})
        # Copies: the request reuses its output buffers on the next call.
        return [np.array(results[self._compiled.output(i)]) for i in range(len(self._outputs))]


def session(model: bytes | str, providers: list[str], threads: int) -> Model:
    """The model on the first of `providers` that takes it."""
    if providers and providers[0] == OPENVINO:
        try:
            created: Model = OpenVinoModel(model, threads)
        except Exception as e:  # an op OpenVINO lacks in a user's model: onnxruntime runs it instead
            log.warning("OpenVINO could not load the model (%s); using onnxruntime's CPU provider", e)
            created = OrtModel(model, [CPU], threads)
    else:
        created = OrtModel(model, providers, threads)
    log.info("person model on %s", created.provider)
    return created
