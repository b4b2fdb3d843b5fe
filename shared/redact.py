"""Masking of credentials in any text: `scheme://user:password@host` and `password=` parameters."""

import re

# Greedy up to the last "@" before the path: a password may itself hold an unescaped "@".
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^\s/?#@]*(?:@[^\s/?#@]*)*@")
_SECRET_PARAM = re.compile(r"(?P<name>\b(?:password|passwd|pwd|pass|token|secret)=)[^&\s'\"]*", re.I)

MASK = "***"


def mask_credentials(text: str) -> str:
    """Return `text` with URL user info and password-like query parameters replaced by ***."""
    text = _URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    return _SECRET_PARAM.sub(rf"\g<name>{MASK}", text)
