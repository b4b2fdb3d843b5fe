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
import time

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
    parser.add_argument("--gop", type=int, default=30, help="frames from one keyframe to the next")
    parser.add_argument("--audio", choices=["none", "pcmu", "aac"], default="none", help="a sine tone as well")
    parser.add_argument(
        "--login", choices=["basic", "digest"], help="require this login (user and password from stdin)"
    )
    parser.add_argument("--clock", action="store_true", help="paint the wall-clock time into each frame (latency)")
    parser.add_argument(
        "--per-client",
        action="store_true",
        help="a pipeline per client, not one shared: GStreamer's shared media can abort the server "
        "(gst_rtsp_media_get_rates: assertion failed) when clients come and go at the same moment",
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    raw = f"video/x-raw,width={width},height={height},framerate={args.fps}/1"
    source = (
        f"appsrc name=clock is-live=true format=time do-timestamp=true caps={raw},format=I420"
        if args.clock
        else f"videotestsrc is-live=true pattern=smpte horizontal-speed=2 ! {raw}"
    )
    factory.set_launch(
        f"( {source} "
        f"! {args.codec.replace('h', 'x')}enc tune=zerolatency speed-preset=ultrafast key-int-max={args.gop} "
        f"! rtp{args.codec}pay name=pay0 pt=96 config-interval=1 {AUDIO[args.audio]})"
    )
    factory.set_shared(not args.per_client)
    if args.clock:
        factory.connect("media-configure", lambda _f, media: _start_clock(media, width, height, args.fps))
    if args.login:
        user, _, password = sys.stdin.readline().rstrip("\n").partition(":")  # never on the command line
        _require_login(server, factory, args.login, user, password)
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


TONE = "audiotestsrc is-live=true wave=sine freq=440 volume=0.5 ! audioconvert ! audioresample"
AUDIO = {
    "none": "",
    "pcmu": f"{TONE} ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt=0 ",
    "aac": f"{TONE} ! audio/x-raw,rate=16000,channels=1 ! voaacenc ! rtpmp4gpay name=pay1 pt=97 ",
}


def _require_login(server: object, factory: object, method: str, user: str, password: str) -> None:
    gi.require_version("GstRtsp", "1.0")
    from gi.repository import GstRtsp  # noqa: PLC0415

    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    if method == "basic":
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    else:
        auth.add_digest(user, password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    for permission in (GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT):
        permissions.add_permission_for_role("user", permission, True)
    factory.set_permissions(permissions)


CLOCK_BITS = 32
CLOCK_BLOCK_H = 32


def clock_frame(width: int, height: int, now_ms: int, rest: bytes, chroma: bytes) -> bytes:
    """An I420 frame whose top band shows now_ms (mod 2^32) as 32 black or white blocks, high bit first."""
    block_w = width // CLOCK_BITS
    row = b"".join((b"\xeb" if (now_ms >> (CLOCK_BITS - 1 - i)) & 1 else b"\x10") * block_w for i in range(CLOCK_BITS))
    row += b"\x80" * (width - len(row))
    return row * CLOCK_BLOCK_H + rest + chroma


def _start_clock(media: GstRtspServer.RTSPMedia, width: int, height: int, fps: int) -> None:
    source = media.get_element().get_by_name("clock")
    rest = b"".join(bytes([16 + (y * 200) // height]) * width for y in range(CLOCK_BLOCK_H, height))
    chroma = b"\x80" * (2 * (width // 2) * (height // 2))

    def push() -> bool:
        data = clock_frame(width, height, int(time.time() * 1000) & 0xFFFFFFFF, rest, chroma)
        return source.emit("push-buffer", Gst.Buffer.new_wrapped(data)) == Gst.FlowReturn.OK

    GLib.timeout_add(max(1, round(1000 / fps)), push)


if __name__ == "__main__":
    sys.exit(main())
