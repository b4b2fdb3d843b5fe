"""Logging set-up shared by every process: one line a record, credentials masked everywhere."""

import logging
import sys

from shared.redact import mask_credentials


class CredentialMaskFilter(logging.Filter):
    """Masks `user:password@` in URLs in the message, its arguments and any traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_credentials(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_credentials(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_credentials(record.stack_info)
        return True


def setup_logging(level: str, process: str) -> None:
    """Log to stderr as `time level process[pid] logger: message`, masking credentials."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CredentialMaskFilter())
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {process}[%(process)d] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    # Alembic narrates every migration context at INFO; shared.db says what changed in one line.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
