"""Tab-separated tables the stages hand each other (label tables), read strictly.

pandas alone accepts ragged rows (a longer first row silently becomes an index column), turns empty
cells into NaN that later break sorting, and raises its own exception types; here each of those is
one GenolmError naming the file and, where it applies, the line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import pandas as pd

from genolm.errors import GenolmError

_INTEGER = r"[+-]?\d{1,18}"  # fits int64
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def read_table(path: str | os.PathLike, columns: Mapping[str, type]) -> pd.DataFrame:
    """A TSV whose `columns` (name -> str or int) are present and filled on every row; others stay text."""
    path = os.fspath(path)
    raw = _read_cells(path, columns)
    header = list(raw.iloc[0]) if len(raw) else []
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise GenolmError(f"{path}:1: repeated column(s) {', '.join(map(repr, repeated))}")
    short = raw.isna().any(axis=1).to_numpy()
    if short.any():
        line = int(short.argmax()) + 1
        fields = int(raw.iloc[line - 1].notna().sum())
        raise GenolmError(f"{path}:{line}: {fields} field(s), but the header has {len(header)}")
    missing = [name for name in columns if name not in header]
    if missing:
        raise GenolmError(f"{path}: missing column(s) {', '.join(map(repr, missing))}")
    table = pd.DataFrame(raw.iloc[1:].to_numpy(), columns=header)
    for name, kind in columns.items():
        values = table[name]
        bad = (values == "") if kind is str else ~values.str.fullmatch(_INTEGER)
        if bad.any():
            line = int(bad.to_numpy().argmax()) + 2
            expected = "a value" if kind is str else "an integer"
            got = values[bad].iloc[0]
            raise GenolmError(f"{path}:{line}: column {name!r} is {got!r}, expected {expected}")
        if kind is int:
            table[name] = values.astype("int64")
    return table


def _read_cells(path: str, columns: Mapping[str, type]) -> pd.DataFrame:
    """Every cell as text, the header included (row 0 is line 1); ragged rows are NaN-padded or refused."""
    try:
        return pd.read_csv(
            path, sep="\t", header=None, dtype=str, keep_default_na=False, skip_blank_lines=False
        )
    except pd.errors.EmptyDataError:
        raise GenolmError(f"{path}: empty file; expected a header naming {', '.join(columns)}") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        ragged = _RAGGED.search(detail)
        if ragged:
            expected, line, saw = ragged.groups()
            raise GenolmError(f"{path}:{line}: {saw} fields, but the header has {expected}") from None
        raise GenolmError(f"{path}: malformed table ({detail})") from None
    except UnicodeDecodeError as exc:
        raise GenolmError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise GenolmError(f"{path}: cannot open ({exc.strerror or exc})") from exc
