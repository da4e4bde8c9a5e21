"""Everything enforcer prints goes through here, so no secret can slip out.

The Redactor knows every password of the run (and its base64 and UTF-16LE
forms, which is how credentials travel in HTTP headers and PowerShell
-EncodedCommand) and masks them in stdout, stderr, logs and saved reports.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import sys
import threading
from typing import TextIO

MASK = "********"

# Colours on a terminal, by what a line says: destructive red, disruptive yellow, done green, failures red.
_RED, _YELLOW, _GREEN, _RESET = "\033[31m", "\033[33m", "\033[32m", "\033[0m"
_STYLES = ((re.compile(r"\(destructive|^\s*(FAILED|ERROR)\b|^error:|\bfailed\b.*->|^failed "), _RED),
           (re.compile(r"\(disruptive|; disruptive\)|^WARNING"), _YELLOW),
           (re.compile(r"^(changed|ok)\b|^No changes\."), _GREEN))


def colours_wanted(stream: TextIO) -> bool:
    """On a terminal, unless NO_COLOR is set (https://no-color.org) or the terminal is dumb."""
    return (stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb")


def _colour(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        style = next((code for pattern, code in _STYLES if pattern.search(line)), None)
        lines.append(f"{style}{line}{_RESET}" if style and line else line)
    return "\n".join(lines)


class Redactor:
    def __init__(self) -> None:
        self._needles: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < 3:
            return
        forms = {secret, base64.b64encode(secret.encode()).decode(),
                 base64.b64encode(secret.encode("utf-16-le")).decode()}
        with self._lock:
            self._needles |= {f.rstrip("=") for f in forms} | forms

    def __call__(self, text: str) -> str:
        with self._lock:
            needles = sorted(self._needles, key=len, reverse=True)
        for needle in needles:
            if needle in text:
                text = text.replace(needle, MASK)
        return text


class _RedactingFilter(logging.Filter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = ()
        return True


class Console:
    """stdout for results, stderr for progress and diagnostics; `verbosity` is the count of -v."""

    def __init__(self, verbosity: int = 0, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.verbosity = verbosity
        self.redact = Redactor()
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._colour_out, self._colour_err = colours_wanted(self._out), colours_wanted(self._err)
        self._lock = threading.Lock()
        handler = logging.StreamHandler(self._err)
        handler.addFilter(_RedactingFilter(self.redact))
        handler.setFormatter(logging.Formatter("  %(name)s: %(message)s"))
        for name, level in (("enforcer.ops", 2), ("enforcer.wire", 3)):
            logger = logging.getLogger(name)
            logger.handlers = [handler]
            logger.propagate = False
            logger.setLevel(logging.INFO if verbosity >= level else logging.WARNING)

    def out(self, text: str) -> None:
        text = self.redact(text)
        with self._lock:
            self._out.write((_colour(text) if self._colour_out else text) + ("\n" if not text.endswith("\n") else ""))
            self._out.flush()

    def err(self, text: str) -> None:
        text = self.redact(text)
        with self._lock:
            self._err.write((_colour(text) if self._colour_err else text) + "\n")
            self._err.flush()

    def info(self, text: str, level: int = 1) -> None:
        if self.verbosity >= level:
            self.err(text)
