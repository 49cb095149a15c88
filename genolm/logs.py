"""Run one workflow step with logging to the rule's log file and a one-line error on bad input."""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genolm.errors import GenolmError

LOG = logging.getLogger("genolm")
#: Out of disk, quota or memory: the run's resources, not a bug, so one line instead of a traceback.
RESOURCE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.ENOMEM})


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO) -> None:
    """Send genolm's log lines to stderr and, when given, to the rule's log file."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True
    )


def run_step(func: Callable[..., Any], log_path: str | Path | None = None, **kwargs: Any) -> Any:
    """Call `func(**kwargs)`; a GenolmError becomes one error line and exit status 1, not a traceback."""
    setup_logging(log_path)
    try:
        return func(**kwargs)
    except GenolmError as err:
        LOG.error("%s", err)
        sys.exit(1)
    except OSError as err:
        if err.errno not in RESOURCE_ERRNOS:
            LOG.exception("unexpected error (please report it with this log)")
            raise
        where = f" ({err.filename})" if err.filename else ""
        reason = os.strerror(err.errno)
        LOG.error("%s: %s%s; free disk space or memory and rerun", func.__name__, reason, where)
        sys.exit(1)
    except MemoryError:
        LOG.error("%s: out of memory; raise the rule's resources.mem_mb or use smaller inputs", func.__name__)
        sys.exit(1)
    except Exception:
        LOG.exception("unexpected error (please report it with this log)")
        raise
