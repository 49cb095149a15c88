"""One module per report section; each section builder takes a `Run` and returns one section block.

A new section is a new module here with a `<name>_section(run)` function, added to `SECTIONS` in
`genolm.report.build` at the place it should appear on the page.
"""

from genolm.report.sections.data import data_section
from genolm.report.sections.disease_risk import disease_risk_section
from genolm.report.sections.gene_function import gene_function_section
from genolm.report.sections.interpretation import interpretation_section
from genolm.report.sections.overview import overview_section
from genolm.report.sections.pretraining import pretraining_section
from genolm.report.sections.prioritise import prioritise_section
from genolm.report.sections.provenance import provenance_section

__all__ = [
    "data_section",
    "disease_risk_section",
    "gene_function_section",
    "interpretation_section",
    "overview_section",
    "pretraining_section",
    "prioritise_section",
    "provenance_section",
]
