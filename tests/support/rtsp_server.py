"""A live H.264 (or H.265) RTSP server for tests and benchmarks (GStreamer's RTSP server).

Run with Debian's /usr/bin/python3, which has the GObject bindings:
    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 --size 640x360 --fps 15
Serves rtsp://127.0.0.1:PORT/cam (--codec h265 for H.265) and prints READY once it listens. Each mount shares one
encoder among its clients. With --refuse-login every request is answered 401 Unauthorized,
as a camera does to a wrong password.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--mount", default="/cam")
    parser.add_argument("--codec", choices=["h264", "h265"], default="h264")
    parser.add_argument("--refuse-login", action="store_true")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern=smpte horizontal-speed=2 "
        f"! video/x-raw,width={width},height={height},framerate={args.fps}/1 "
        f"! {args.codec.replace('h', 'x')}enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
        f"! rtp{args.codec}pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(True)
    if args.refuse_login:
        # An auth with no user and no default token: every request needs a login none has.
        server.set_auth(GstRtspServer.RTSPAuth())
    server.get_mount_points().add_factory(args.mount, factory)
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
