"""Which detector looks for people (and objects): the one the settings choose, built. The worker,
the offline evaluator and the benchmarks all build it here, so they run the same one."""

from __future__ import annotations

from pathlib import Path

from analyzer.detectors.detection import Detector
from analyzer.detectors.objects import ObjectDetector
from analyzer.detectors.persons import PersonDetector
from shared.labels import COCO_LABELS
from shared.settings import Settings


def build_detector(
    settings: Settings,
    detector: str | None = None,
    long_side: int | None = None,
    person_model: Path | None = None,
    provider: str | None = None,
    labels: tuple[str, ...] = COCO_LABELS,
) -> Detector:
    """The settings' detector; each argument given overrides its setting. A user's own ONNX model
    (`person_model`, CAMSTREAM_ANALYZER_PERSON_MODEL) takes precedence over either built-in one.
    NanoDet sees `labels` (the worker: all, each camera's rules pick; the evaluator: people only);
    SSDLite people only. NanoDet's files missing or altered: a model_fetch.FetchError naming the cure."""
    person_model = person_model or settings.analyzer_person_model
    provider = provider or settings.analyzer_provider
    if (detector or settings.analyzer_detector) == "nanodet" and person_model is None:
        return ObjectDetector(
            settings.model_cache_dir,
            provider,
            settings.analyzer_threads,
            labels=labels,
            long_side=long_side or settings.analyzer_input_long_side,
            model_dir=settings.model_dir,
        )
    return PersonDetector(settings.model_cache_dir, person_model, provider, settings.analyzer_threads)


def describe(detector: Detector) -> str:
    """For the log: which model it is."""
    if isinstance(detector, ObjectDetector):
        return "built-in NanoDet-g"
    return "your ONNX model" if isinstance(detector, PersonDetector) and detector.custom else "built-in SSDLite"
