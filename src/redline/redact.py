"""Keep secret values out of every output, log line, exception and stored row.

A :class:`Redactor` knows the secret values of this process and replaces them,
wherever they appear inside a text, with ``***``. The secrets module registers
every value it decrypts with :data:`REDACTOR`; the CLI passes all it prints
through it, and :func:`install_log_filter` does the same for logging.

>>> r = Redactor()
>>> r.add("hunter22")
>>> r.scrub("password=hunter22;")
'password=***;'
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "REDACTOR", "Redactor", "install_log_filter", "redact_url"]

MASK = "***"
# Shorter values would mask ordinary words ("on", "1"); secrets that short are not secrets.
_MIN_LEN = 4


class Redactor:
    """A set of secret values and the means to scrub them from text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Remember ``value`` (and its URL-quoted form) as secret."""
        if not isinstance(value, str) or len(value) < _MIN_LEN:
            return
        from urllib.parse import quote

        with self._lock:
            before = len(self._values)
            self._values.update({value, quote(value, safe=""), *_lines(value)})
            if len(self._values) != before:
                self._pattern = None

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __len__(self) -> int:
        return len(self._values)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``***``."""
        if not self._values or not text:
            return text
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                ordered = sorted(self._values, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return pattern.sub(MASK, text)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None


def _lines(value: str) -> list[str]:
    # A multi-line secret (a PEM key) printed line by line must still be masked.
    return [line for line in value.splitlines() if len(line.strip()) >= 8]


REDACTOR = Redactor()


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (``postgresql://u:***@h/db``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{netloc}"))


def install_log_filter(redactor: Redactor = REDACTOR) -> None:
    """Scrub secrets from every log record this process makes, whichever logger or handler.

    Done at record creation (``logging.setLogRecordFactory``), since a filter on one logger
    does not see what its children propagate. Installing twice is harmless.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_redline_scrubs", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if len(redactor):
            record.msg = redactor.scrub(record.getMessage())
            record.args = None
        return record

    factory._redline_scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
