"""Masking of credentials in any text: `scheme://user:password@host` and `password=` parameters."""

import re

# The user info of a URL is everything from `://` to the LAST "@" before the next whitespace:
# a password may hold any reserved character unescaped (`#`, `/`, `?`, `@`, `:` ...), so no
# other character can be trusted to end it. Masking a path that holds an "@" too is the safe error.
# A login may also hold a space or two (refused in camera URLs, but text from elsewhere may quote
# one): up to two more words, none with a "/", before the "@".
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?:\S*@|[^\s@/]*(?:[ \t]+[^\s@/]*){1,2}@)")
_SECRET_PARAM = re.compile(r"(?P<name>\b(?:password|passwd|pwd|pass|token|secret)=)[^&\s'\"]*", re.I)

MASK = "***"


def mask_credentials(text: str) -> str:
    """Return `text` with URL user info and password-like query parameters replaced by ***."""
    text = _URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    return _SECRET_PARAM.sub(rf"\g<name>{MASK}", text)
