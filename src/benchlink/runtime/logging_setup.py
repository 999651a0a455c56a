"""structlog wiring: JSON lines on disk, the in-memory ring for the Log panel, PHI redacted.

Redaction runs as the last processor before rendering so that nothing added by earlier
processors (exception text included) escapes it. Tracebacks are rendered without locals,
because structlog's default shows locals and locals hold patient data.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from benchlink.core.logbuffer import GLOBAL_LOG, LogEntry, LogRing
from benchlink.core.redaction import redact_mapping

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _local_time_with_offset(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Local time with its UTC offset: a log sent to support from another time zone, or spanning a
    daylight-saving change (when one local hour happens twice), still orders and reads right."""
    event_dict["timestamp"] = datetime.now().astimezone().isoformat(timespec="microseconds")
    return event_dict


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return redact_mapping(event_dict)


class _RingWriter:
    """Copies every rendered-ready event into the ring before it is serialised."""

    def __init__(self, ring: LogRing) -> None:
        self._ring = ring

    def __call__(self, _: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in event_dict.items() if k not in {"timestamp", "level", "event", "device"}}
        self._ring.append(
            LogEntry(
                timestamp=str(event_dict.get("timestamp", "")),
                level=str(event_dict.get("level", "info")),
                event=str(event_dict.get("event", "")),
                device=str(event_dict.get("device", "")),
                fields=fields,
            )
        )
        return event_dict


def configure_logging(
    log_dir: Path | None, *, level: str = "info", ring: LogRing = GLOBAL_LOG, console: bool = False
) -> Path | None:
    """Configure once per process; returns the log file path (None when logging to the ring only)."""
    handlers: list[logging.Handler] = []
    log_file: Path | None = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = log_dir / "benchlink.jsonl"
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
        handlers.append(file_handler)
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger("benchlink")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
    root.setLevel(_LEVELS.get(level, logging.INFO))
    root.propagate = False
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _local_time_with_offset,
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            _redact,
            _RingWriter(ring),
            structlog.processors.JSONRenderer(default=str),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        cache_logger_on_first_use=False,
    )
    return log_file


def get_logger(name: str = "benchlink") -> Any:
    return structlog.get_logger(name)


def _safe_default() -> None:
    """Until a command configures logging, events go to the ring only, redacted: structlog's
    own default would print unredacted events to stdout."""
    if not structlog.is_configured():
        configure_logging(None)


_safe_default()
