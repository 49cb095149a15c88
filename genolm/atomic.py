"""Atomic output: write to a temporary sibling and rename, so no reader ever sees half a file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds.

    Works for files and directories. On any exception the temporary is removed and `path`
    is left as it was (absent, for a fresh output).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            # Move the old directory aside before renaming the new one in, so a kill between the two
            # renames leaves the old one recoverable at `previous_path(path)`, never neither.
            backup = previous_path(path)
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(path, backup)
            os.replace(tmp, path)
            shutil.rmtree(backup)
        else:
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def previous_path(path: str | os.PathLike) -> Path:
    """Where `atomic_path` keeps a directory's previous version while swapping in the new one."""
    path = Path(path)
    return path.with_name(f".{path.name}.previous")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically, with sorted keys so identical content gives identical bytes."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_tsv(path: str | os.PathLike, table: Any, **kwargs: Any) -> None:
    """Write a pandas table as TSV atomically, without the index (`kwargs` go to `DataFrame.to_csv`)."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, **kwargs)


def _json_default(obj: Any) -> Any:
    """Serialise numpy scalars and paths, the only non-JSON types our results carry."""
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
