#!/usr/bin/env bash
# Runs the project's own uv (`scripts/uv.sh ARGS...`), first making .venv (Python 3.11 to 3.14) and
# installing uv into .venv/uv where needed: pip fetches the version scripts/uv-requirements.txt
# names and refuses any file whose hash it does not list. scripts/setup.sh and scripts/lock.sh use it.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi; }

if [ ! -x .venv/bin/python ]; then
  python=""
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3.14 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 15))' 2>/dev/null; then
      python="$candidate"; break
    fi
  done
  if [ -z "$python" ]; then
    echo "camstream needs Python 3.11 to 3.14 (set PYTHON=/path/to/python3.11)" >&2; exit 1
  fi
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    echo "setup: the venv module is missing; installing python3-venv" >&2
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
      || { echo "setup: install python3-venv (apt-get install python3-venv) and run again" >&2; exit 1; }
    "$python" -m venv .venv
  fi
fi

uv_want="$(sha256sum scripts/uv-requirements.txt | cut -d' ' -f1)"
if [ ! -x .venv/uv/bin/uv ] || [ "$(cat .venv/uv/.requirements-sha256 2>/dev/null)" != "$uv_want" ]; then
  echo "setup: installing uv (scripts/uv-requirements.txt)" >&2
  rm -rf .venv/uv
  .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip >/dev/null 2>&1 || true
  if ! .venv/bin/python -m pip install --disable-pip-version-check --no-deps --only-binary :all: \
      --require-hashes --target .venv/uv -r scripts/uv-requirements.txt > .venv/uv-install.log 2>&1; then
    tail -n 20 .venv/uv-install.log >&2
    echo "setup: could not install uv; the whole log is in .venv/uv-install.log" >&2
    exit 1
  fi
  echo "$uv_want" > .venv/uv/.requirements-sha256
fi

# The venv's own Python, never one uv would download; uv's cache where uv keeps it (~/.cache/uv).
export UV_PYTHON_DOWNLOADS=never UV_PYTHON=.venv/bin/python
exec .venv/uv/bin/uv "$@"
