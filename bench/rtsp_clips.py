"""An RTSP server that loops pre-encoded H.264 clips (bench/clips.py) without re-encoding.

Run with Debian's /usr/bin/python3, which has the GObject bindings:
    /usr/bin/python3 bench/rtsp_clips.py --port 8554 main=/path/main.units sub=/path/sub.units
Serves rtsp://127.0.0.1:PORT/main and /sub and prints READY once it listens. Each mount is one
shared pipeline (appsrc, h264parse, rtph264pay) fanned out to all its clients, so the server's
cost barely grows with the number of cameras reading it; the units are pushed on the wall clock
at the clip's rate, looping.
"""

import argparse
import signal
import struct
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def read_units(path):
    with open(path, "rb") as file:
        data = file.read()
    units, at = [], 0
    while at < len(data):
        (length,) = struct.unpack_from(">I", data, at)
        units.append(data[at + 4 : at + 4 + length])
        at += 4 + length
    return units


def push_forever(source, units, fps):
    """Push the clip's units at its rate, looping, until the media goes (push fails)."""
    interval = 1.0 / fps
    started = time.monotonic()
    count = 0
    while True:
        buffer = Gst.Buffer.new_wrapped(units[count % len(units)])
        if source.emit("push-buffer", buffer) != Gst.FlowReturn.OK:
            return
        count += 1
        delay = started + count * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:  # stalled: start the clock afresh rather than burst
            started, count = time.monotonic(), 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("clips", nargs="+", help="mount=path")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    for spec in args.clips:
        mount, path = spec.split("=", 1)
        units = read_units(path)
        factory = GstRtspServer.RTSPMediaFactory()
        caps = f"video/x-h264,stream-format=byte-stream,alignment=au,framerate={args.fps}/1"
        factory.set_launch(
            f"( appsrc name=clip is-live=true format=time do-timestamp=true caps={caps} "
            "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 mtu=1400 )"
        )
        factory.set_shared(True)

        def configure(_factory, media, units=units):
            source = media.get_element().get_by_name("clip")
            threading.Thread(target=push_forever, args=(source, units, args.fps), daemon=True).start()

        factory.connect("media-configure", configure)
        server.get_mount_points().add_factory(f"/{mount}", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
