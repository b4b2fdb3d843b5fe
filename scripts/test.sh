#!/usr/bin/env bash
# Installs what the tests need and runs the whole suite: lint, types, then pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k rtsp -x).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi; }

# GStreamer's RTSP server, run with Debian's python3, serves the tests' live H.264 and H.265.
rtsp_ok() {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "
import gi; gi.require_version('GstRtspServer', '1.0'); gi.require_version('Gst', '1.0')
from gi.repository import Gst, GstRtspServer; Gst.init(None)
assert all(Gst.ElementFactory.find(e) for e in ('x264enc', 'rtph264pay', 'x265enc', 'rtph265pay'))" 2>/dev/null
}
if ! rtsp_ok; then
  echo "test: installing GStreamer's RTSP server (Debian packages)" >&2
  if as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      python3 python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
      gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly >/dev/null; then
    :
  else
    echo "test: could not install them (not root?): the RTSP tests will be skipped" >&2
  fi
fi

# Debian's Chromium plays the gateway's video in the browser tests (Playwright drives it; no browser download).
if [ ! -x /usr/bin/chromium ]; then
  echo "test: installing Debian's chromium" >&2
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "test: could not install chromium (not root?): the browser tests will be skipped" >&2
fi

# Debian's docker-compose validates docker-compose.yml (there is no Docker engine to run it).
if ! command -v docker-compose >/dev/null; then
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null \
    || echo "test: could not install docker-compose: the compose validation will be skipped" >&2
fi

# Debian's PostgreSQL: the storage tests start a server of their own (initdb, pg_ctl) on a free port.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  echo "test: installing Debian's postgresql" >&2
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
    || echo "test: could not install postgresql (not root?): the PostgreSQL tests will be skipped" >&2
fi

# Debian's Mosquitto: the MQTT tests start a broker of their own on a free loopback port.
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  echo "test: installing Debian's mosquitto" >&2
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null \
    || echo "test: could not install mosquitto (not root?): the MQTT tests will be skipped" >&2
fi

scripts/setup.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
