"""Numbers as the report prints them, and the plain blocks (dicts) that the template renders.

A section is a list of blocks; each block builder here returns one dict whose `kind` the template in
`genolm/templates/report.html` knows. Cells are formatted here, so the template only escapes and lays out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

Block = dict[str, Any]


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any, digits: int = 3) -> str:
    """Integers with thousands separators, floats to `digits` decimals, missing/NaN as an en dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if 0 < abs(value) < 10**-digits else f"{value:,.{digits}f}"
    return str(value)


def with_ci(metric: dict | None) -> str:
    """A metric dict as "value [ci_low, ci_high]", or the value alone when it has no finite CI."""
    if not metric:
        return "–"
    value = fmt(metric.get("value"))
    if is_number(metric.get("ci_low")) and is_number(metric.get("ci_high")):
        return f"{value} [{fmt(metric['ci_low'])}, {fmt(metric['ci_high'])}]"
    return value


def size(n: float | None) -> str:
    """A byte count in binary units (B, KiB, ... TiB)."""
    if not is_number(n):
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return "–"


def cell(value: Any) -> str:
    """One table cell read from a TSV: NaN as a dash, non-integral floats to 3 decimals."""
    if pd.isna(value):
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}"
    return str(value)


def frame_rows(table: pd.DataFrame, wanted: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """(columns, formatted rows) of the `wanted` columns that `table` has, in `wanted` order."""
    columns = [c for c in wanted if c in table]
    return columns, [[cell(v) for v in row] for row in table[columns].itertuples(index=False)]


def slug(*parts: str) -> str:
    """An HTML anchor made of `parts`: runs of other characters become "-", an empty part "x"."""
    return "-".join(re.sub(r"[^A-Za-z0-9_]+", "-", p).strip("-") or "x" for p in parts)


def h3(text: str, anchor: str | None = None) -> Block:
    """A sub-heading, optionally an anchor target."""
    return {"kind": "h3", "text": text, "id": anchor}


def p(text: str) -> Block:
    """A paragraph."""
    return {"kind": "p", "text": text}


def note(text: str) -> Block:
    """A muted paragraph: what is missing or not run."""
    return {"kind": "note", "text": text}


def pre(text: str) -> Block:
    """Preformatted text (the configuration as YAML)."""
    return {"kind": "pre", "text": text}


def stats(items: list[tuple[str, str]]) -> Block:
    """Big (label, value) tiles at the top of a page."""
    return {"kind": "stats", "items": items}


def link(text: str, anchor: str) -> dict[str, str]:
    """A table cell that links to an anchor on the same page."""
    return {"text": text, "href": anchor}


def table(columns: list[str], rows: list[list[Any]], caption: str = "", numeric: bool = True) -> Block:
    """A table; cells that are not strings or links are formatted with `fmt`.

    `numeric` right-aligns every column but the first.
    """
    cells = [[c if isinstance(c, str | dict) else fmt(c) for c in row] for row in rows]
    return {"kind": "table", "columns": columns, "rows": cells, "caption": caption, "numeric": numeric}


def kv(pairs: list[tuple[str, Any]], caption: str = "") -> Block:
    """A two-column key/value table without a header."""
    return table(["", ""], [[k, v] for k, v in pairs], caption, numeric=False)


def figure(fig: go.Figure) -> Block:
    """A plotly figure, turned into an inline div when the page is rendered."""
    return {"kind": "figure", "fig": fig}


def section(anchor: str, title: str, blocks: list[Block], links: Sequence[dict[str, str]] = ()) -> Block:
    """A page section; `links` are its sub-anchors (one per task) listed in the navigation bar."""
    return {"id": anchor, "title": title, "blocks": blocks, "links": list(links)}
