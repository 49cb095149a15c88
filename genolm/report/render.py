"""Blocks to one self-contained HTML page: the Jinja2 template with autoescaping, plotly.js inlined once."""

from __future__ import annotations

import datetime as dt

import jinja2
import plotly.graph_objects as go
import plotly.offline
from markupsafe import Markup

from genolm.report.format import Block


def now() -> str:
    """The current time as the report prints it (UTC, to the second)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render(title: str, subtitle: str, sections: list[Block], banner: str | None, generated: str) -> str:
    """The page for `sections`; figures become inline divs with sequential ids.

    Args:
        title: the page's title and top heading.
        subtitle: the line under the heading (the results folder, or the compared runs).
        sections: section blocks (`genolm.report.format.section`); their figure blocks are replaced.
        banner: a warning shown above every section (synthetic data), or None.
        generated: when the page was made, as shown under the heading.

    Returns:
        The HTML text, loading nothing from outside the page.
    """
    count = 0
    for section in sections:
        for block in section["blocks"]:
            if block["kind"] == "figure":
                count += 1
                block["html"] = _figure_html(block.pop("fig"), f"fig-{count}")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("genolm", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html").render(
        title=title,
        subtitle=subtitle,
        sections=sections,
        banner=banner,
        generated=generated,
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
    )


def _figure_html(fig: go.Figure, div_id: str) -> Markup:
    """One figure as a div that the inlined plotly.js draws, in the report's look."""
    # A title above subplot titles needs more room, or the two overlap.
    top = 90 if fig.layout.title.text and fig.layout.annotations else 50
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": top, "b": 50})
    if fig.layout.height is None:
        fig.update_layout(height=380)
    return Markup(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )
