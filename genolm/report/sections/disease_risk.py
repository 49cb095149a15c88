"""Disease-risk tasks: score distributions by label, ROC/PR of every method, the top-scored variants."""

from __future__ import annotations

from pathlib import Path

from genolm.names import MODEL_METHODS
from genolm.report.figures import roc_pr, score_violins
from genolm.report.format import Block, figure, frame_rows, note, table
from genolm.report.load import Run, best, read_table, require
from genolm.report.sections.tasks import family_section

TOP_VARIANTS = 20
VARIANT_COLUMNS = ("id", "gene", "contig", "pos", "ref", "alt", "consequence", "clnsig", "label", "score")


def disease_risk_section(run: Run) -> Block:
    """The disease-risk family (see `family_section`)."""
    return family_section(run, "disease_risk", risk_details)


def risk_details(task_dir: Path, methods: dict[str, dict]) -> list[Block]:
    """One task's details, from each method's scores.tsv; a note when there is none."""
    scores = {}
    for method in methods:
        path = task_dir / method / "scores.tsv"
        frame = read_table(path, dtype={"contig": str, "label": str, "id": str})
        if frame is not None:
            scores[method] = require(frame, ("label", "score"), path)
    if not scores:
        return [note("No scores.tsv files for this task.")]
    curves = {
        m: ((t["label"] == "pathogenic").astype(int).to_numpy(), t["score"].to_numpy())
        for m, t in scores.items()
    }
    blocks: list[Block] = [figure(score_violins(scores)), figure(roc_pr(curves, "pathogenic"))]
    found = best({m: d for m, d in methods.items() if m in scores}, "auroc", MODEL_METHODS)
    if found:
        top = scores[found[0]].sort_values("score", ascending=False, kind="stable").head(TOP_VARIANTS)
        columns, rows = frame_rows(top, VARIANT_COLUMNS)
        blocks.append(
            table(
                ["#", *columns],
                [[str(rank), *row] for rank, row in enumerate(rows, start=1)],
                f"Top {TOP_VARIANTS} test variants by {found[0]} score (the model method with best AUROC).",
                numeric=False,
            )
        )
    return blocks
