"""Credentials are masked in any text and in every log record, tracebacks included."""

from __future__ import annotations

import logging

import pytest

from shared.logs import CredentialMaskFilter
from shared.redact import mask_credentials


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("rtsp://admin:pw@cam.example:554/s", "rtsp://***@cam.example:554/s"),
        ("rtsp://admin:p@ss@cam.example/s", "rtsp://***@cam.example/s"),
        ("rtsps://user@cam.example/", "rtsps://***@cam.example/"),
        ("see rtsp://a:b@x/1 and redis://:pw@127.0.0.1:6379/0", "see rtsp://***@x/1 and redis://***@127.0.0.1:6379/0"),
        ("http://cam.example/snap?user=a&password=pw&x=1", "http://cam.example/snap?user=a&password=***&x=1"),
        ("rtsp://cam.example/s1 has no secret", "rtsp://cam.example/s1 has no secret"),
    ],
)
def test_mask_credentials(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


# RFC 3986's reserved characters, and the percent sign: any of them may sit unescaped in a password.
RESERVED = ":/?#[]@!$&'()*+,;=%"


@pytest.mark.parametrize("char", list(RESERVED))
def test_a_password_with_any_reserved_character_is_masked(char: str) -> None:
    url = f"rtsp://admin:Pw{char}LEAK{char}z@127.0.0.1:554/Streaming/Channels/101"
    for text in (url, f"camera 1 failed: cannot open '{url}' (timeout)", f"{url} and redis://:Re{char}LEAK@h:6379/0"):
        masked = mask_credentials(text)
        assert "LEAK" not in masked, masked
        assert "rtsp://***@127.0.0.1:554/Streaming/Channels/101" in masked


def test_log_filter_masks_arguments_and_tracebacks() -> None:
    record_holder: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            record_holder.append(record)

    handler = Keep()
    handler.addFilter(CredentialMaskFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test-redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ConnectionError("cannot reach rtsp://admin:topsecret@cam.example/x")
        except ConnectionError:
            logger.exception("camera %s failed", "rtsp://admin:topsecret@cam.example/x")
    finally:
        logger.removeHandler(handler)
    text = handler.format(record_holder[0])
    assert "topsecret" not in text
    assert text.count("rtsp://***@cam.example/x") >= 2  # the message and the exception line
