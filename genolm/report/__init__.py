"""One self-contained HTML report per run, and a side-by-side page for several runs.

Reads only the result files a run writes (never the training code), so a report can be rebuilt or
compared long after the models are gone. Every section is built as a list of plain blocks (tables,
figures, notes) that one Jinja2 template renders with autoescaping; plotly.js is inlined once.

Modules: `load` (result files, `Run`), `format` (numbers and blocks), `figures` (plotly), `sections`
(one module per page section, each builder public), `render` (the template), `build` (`build_report`
and the section order), `compare` (`compare_runs`).
"""

from genolm.report.build import SECTIONS, build_report
from genolm.report.compare import compare_runs
from genolm.report.load import Run

__all__ = ["SECTIONS", "Run", "build_report", "compare_runs"]
