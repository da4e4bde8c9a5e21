"""`enforce_window`: when a scheduled round may change a cluster (`Sat 02:00-04:00`, `Mon-Fri 22:00-06:00`).

Read by the scheduler each round, and checked whole when a playbook and inventory are loaded, so a window
that cannot be read is invalid input at once, not a surprise at the first round in it.
"""

from __future__ import annotations

import datetime as dt
import re

from .errors import InputError

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WINDOW = re.compile(r"^(?:(daily)|(\w{3})(?:-(\w{3}))?)\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$", re.I)


def in_window(spec: str | None, moment: dt.datetime, where: str) -> bool:
    """`Sat 02:00-04:00`, `Mon-Fri 22:00-06:00` (past midnight), `daily 01:00-02:00`; several, comma-separated.

    No window means enforcing is always allowed. Times are the scheduler host's local time.
    """
    if not spec:
        return True
    for part in str(spec).split(","):
        match = _WINDOW.match(part.strip())
        if not match:
            raise InputError(f"enforce_window {part.strip()!r}: expected e.g. 'Sat 02:00-04:00' or "
                             f"'daily 01:00-03:00'", where)
        daily, first, last, h1, m1, h2, m2 = match.groups()
        if int(h1) > 23 or int(h2) > 24 or int(m1) > 59 or int(m2) > 59:
            raise InputError(f"enforce_window {part.strip()!r}: hours run 00-23 and minutes 00-59", where)
        days = _day_range(first, last, where) if not daily else set(range(7))
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        minute = moment.hour * 60 + moment.minute
        if start <= end and moment.weekday() in days and start <= minute < end:
            return True
        if start > end and ((moment.weekday() in days and minute >= start) or
                            ((moment.weekday() - 1) % 7 in days and minute < end)):
            return True
    return False


def _day_range(first: str, last: str | None, where: str) -> set[int]:
    try:
        a, b = _DAYS.index(first.lower()), _DAYS.index((last or first).lower())
    except ValueError:
        raise InputError(f"enforce_window: unknown day in {first}{'-' + last if last else ''}", where) from None
    return {(a + i) % 7 for i in range(((b - a) % 7) + 1)}


def check_windows(specs: list[tuple[str | None, str]]) -> None:
    """Every (window, where it was set) readable; InputError naming the first that is not."""
    for spec, where in specs:
        in_window(spec, dt.datetime(2026, 1, 5), where)
