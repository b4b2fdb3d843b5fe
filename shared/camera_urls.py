"""What an RTSP camera URL may hold, checked before it is stored, sent or logged.

A login must be percent-encoded: with a raw `#`, `/` or `?` in the password, every URL parser
(ours, FFmpeg's, the camera's) ends the host at that character and reads the rest of the password
as a path, so nothing would know it is a password: it would be stored unsealed, shown unmasked
and written into tracebacks. A URL like that is refused, with the reason and never the value.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322}


def check_rtsp_url(url: str) -> None:
    """Raises ValueError (whose text holds nothing of the URL) when `url` cannot be read safely."""
    if any(c.isspace() for c in url) or any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError("a camera URL cannot hold spaces or control characters: percent-encode them (%20)")
    parts = urlsplit(url)
    if "@" in parts.path + parts.query + parts.fragment:
        raise ValueError(
            "the URL's login holds a raw '#', '/' or '?' (or its path an '@'): "
            "percent-encode them in the user name and password (%23, %2F, %3F, %40)"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError("the URL's port is not a number (a ':' in the password must be written %3A)") from None
    if not parts.hostname:
        raise ValueError("the URL has no host")


def endpoint(parts: SplitResult) -> tuple[str, str, int | None]:
    """Where a URL connects: scheme, host and port (the scheme's default filled in)."""
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def same_endpoint(first: str, second: str) -> bool:
    """Whether two URLs reach the same server (host and port): a stored password follows a URL
    only there, never to a host the change names."""
    return endpoint(urlsplit(first))[1:] == endpoint(urlsplit(second))[1:]
