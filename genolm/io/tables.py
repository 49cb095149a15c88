"""Tab-separated tables the stages hand each other (label tables), read strictly; and users' own tables.

pandas alone accepts ragged rows (a longer first row silently becomes an index column), turns empty
cells into NaN that later break sorting, and raises its own exception types; here each of those is
one GenolmError naming the file and, where it applies, the line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

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


def read_user_table(
    path: str | os.PathLike, required: Sequence[str] = (), *, sep: str = "\t", **options: Any
) -> pd.DataFrame:
    """A table a user wrote (label table, case labels, benchmark CSV), read as pandas reads it.

    Unlike `read_table`, empty cells stay pandas' (NaN unless `options` say otherwise): these callers drop
    or refuse them with their own message. Only an unreadable file or a missing column is refused here.

    Args:
        path: the file, as the user named it.
        required: columns it must have.
        sep: "\t" for a TSV, "," for a CSV.
        options: more `pandas.read_csv` keywords (dtype, keep_default_na).

    Returns:
        The table, every column as pandas reads it.

    Raises:
        GenolmError: one line naming `path`: unreadable, or without a required column.
    """
    try:
        table = pd.read_csv(path, sep=sep, **options)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        kind = "CSV" if sep == "," else "TSV"
        raise GenolmError(f"{path}: not a readable {kind} ({str(err).splitlines()[0]})") from err
    if not set(required) <= set(table.columns):
        raise GenolmError(
            f"{path}: expected columns {' and '.join(required)}, got {', '.join(map(str, table.columns))}"
        )
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
