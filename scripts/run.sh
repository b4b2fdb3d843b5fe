#!/usr/bin/env bash
# Sets up .venv and runs camstream on the demo cameras (or CAMSTREAM_CAMERAS_FILE's).
# With no CAMSTREAM_REDIS_URL it starts a private redis-server and stops it on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python scripts/run_local.py "$@"
