"""Sending one notification through an apprise URL (the bridge for events, the gateway for the
dashboard's Test button). apprise knows some hundred services: ntfy, Telegram, Pushover, e-mail,
Matrix, Discord, Gotify, json:// and many more (docs/integrations.md)."""

from __future__ import annotations

import logging

import apprise
from apprise.attachment.memory import AttachMemory

log = logging.getLogger(__name__)
# apprise's own log lines may name a service's URL, which holds its token: only our lines are kept.
logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)


class NotifyError(RuntimeError):
    pass


async def send_notification(url: str, title: str, body: str, jpeg: bytes | None) -> None:
    """Raises NotifyError (never with the URL, which holds the service's token) when it is not sent."""
    sender = apprise.Apprise()
    if not sender.add(url):
        raise NotifyError("apprise does not understand this URL (docs/integrations.md lists the forms)")
    attach = apprise.AppriseAttachment()
    if jpeg is not None:
        attach.add(AttachMemory(content=jpeg, name="snapshot.jpg", mimetype="image/jpeg"))  # type: ignore[no-untyped-call]
    if not await sender.async_notify(body=body, title=title, attach=attach if jpeg is not None else None):
        raise NotifyError("the service did not take the notification")
