"""Text the panels show for raw values, kept free of Qt so it is trivially testable."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

_LEVEL_ORDER: dict[str, int] = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


def relative_time(then: float | None, now: float) -> str:
    """Operators read "12 s ago" at a glance faster than a timestamp; 'never' is explicit."""
    if then is None:
        return "never"
    delta = now - then
    if delta < 2:
        return "just now"
    if delta < 60:
        return f"{int(delta)} s ago"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86400:
        return f"{int(delta // 3600)} h ago"
    return f"{int(delta // 86400)} d ago"


def display_value(value: Any) -> str:
    """One rendering for every timestamp/None the store hands back, so columns line up."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        stamp: datetime = value.astimezone() if value.tzinfo is not None else value
        # Stored as UTC; operators read their wall clock. Naive = the analyzer's own clock.
        return stamp.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return f"{value}"


def level_rank(level: str) -> int:
    """Unknown levels rank as info so a custom level is never silently hidden."""
    return _LEVEL_ORDER.get(level.lower(), 20)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def summary_text(devices: int, connected: int, results_today: int | None) -> str:
    """The status-bar line; results are omitted until the first count arrives from the store."""
    parts = [plural(devices, "device"), f"{connected} connected"]
    if results_today is not None:
        parts.append(plural(results_today, "result") + " today")
    return " · ".join(parts)
