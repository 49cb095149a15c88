"""What a lenient annotation read tolerated: each cause counted, with the first line that showed it.

Real annotations (regional cuts, exports, old releases) break the formats' rules in a few common ways.
The readers go on where the meaning is clear and record each cause here, so the label summary and the
log say what was read differently; with `strict` the causes that were always refused raise instead.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field

from genolm.errors import GenolmError
from genolm.io.fasta import open_text

#: Cause -> what the reader did about it (the log and config/README.md use these words).
CAUSES = {
    "missing_parent": "rows whose Parent is not in the file (a regional cut): left out",
    "under_missing_parent": "rows below a row whose Parent is not in the file: left out with it",
    "missing_parent_kept": "rows naming a Parent not in the file, kept through another Parent or as a gene",
    "parent_after_child": "rows whose Parent comes later in the file: read as usual",
    "cyclic_parent": "rows whose Parent chain loops back on itself: left out",
    "cds_or_rna_without_gene": "CDS or transcript rows without a gene: each read as a gene of its own",
    "part_without_gene": "exon, UTR or intron rows without a Parent: left out",
    "parents_in_several_genes": "rows whose Parents belong to different genes: kept in the first gene",
    "duplicate_id": "IDs used again by a row of another type or contig: Parent refers to the first",
    "unknown_type": "rows of a type the reader does not use, outside any gene: ignored",
    "no_gene_id": "GTF rows without a gene_id attribute: left out",
}
_EXAMPLE_CHARS = 160

log = logging.getLogger(__name__)


@dataclass
class AnnotationIssues:
    """Counts and first examples of tolerated defects in one annotation file.

    Attributes:
        source: how errors and examples name the file (what the user configured).
        strict: refuse, with `refusal`, every cause noted with one instead of counting it.
    """

    source: str
    strict: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, tuple[int | None, str]] = field(default_factory=dict)

    def note(self, cause: str, *, line: int | None = None, text: str = "", refusal: str = "") -> None:
        """Count one row of `cause` (text: the row, or '' to look it up by `line` in `fill_examples`).

        Raises:
            GenolmError: in strict mode, when the cause has a `refusal` (today's error message).
        """
        if self.strict and refusal:
            raise GenolmError(f"{self._where(line)}: {refusal}")
        self.counts[cause] += 1
        self.examples.setdefault(cause, (line, text))

    def fill_examples(self, path: str | os.PathLike) -> None:
        """Read the example rows noted by line number only (one pass, stopping once all are found)."""
        wanted = {line for line, text in self.examples.values() if line is not None and not text}
        if not wanted:
            return
        found: dict[int, str] = {}
        with open_text(path) as fh:
            for lineno, row in enumerate(fh, start=1):
                if lineno in wanted:
                    found[lineno] = row.rstrip("\r\n")
                    if len(found) == len(wanted):
                        break
        self.examples = {
            cause: (line, text or found.get(line, "")) for cause, (line, text) in self.examples.items()
        }

    def as_dict(self) -> dict[str, dict[str, int | str]]:
        """{cause: {"count": n, "example": "<source>:<line>: <row>"}}, causes sorted by name."""
        out = {}
        for cause in sorted(self.counts):
            line, text = self.examples[cause]
            shown = text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 3] + "..."
            out[cause] = {"count": int(self.counts[cause]), "example": f"{self._where(line)}: {shown}"}
        return out

    def log(self) -> None:
        """One warning per cause: how many rows, what was done, and the example."""
        for cause, item in self.as_dict().items():
            log.warning("%s: %d %s; e.g. %s", self.source, item["count"], CAUSES[cause], item["example"])

    def _where(self, line: int | None) -> str:
        return f"{self.source}:{line}" if line is not None else self.source
