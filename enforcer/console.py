"""Everything enforcer prints goes through here, so no secret can slip out.

The Redactor knows every password of the run (and its base64 and UTF-16LE
forms, which is how credentials travel in HTTP headers and PowerShell
-EncodedCommand) and masks them in stdout, stderr, logs and saved reports.
"""

from __future__ import annotations

import base64
import logging
import sys
import threading
from typing import TextIO

MASK = "********"


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
        with self._lock:
            self._out.write(self.redact(text) + ("\n" if not text.endswith("\n") else ""))
            self._out.flush()

    def err(self, text: str) -> None:
        with self._lock:
            self._err.write(self.redact(text) + "\n")
            self._err.flush()

    def info(self, text: str, level: int = 1) -> None:
        if self.verbosity >= level:
            self.err(text)
