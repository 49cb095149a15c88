"""What the models look at: ISM and gradients around top variants, attributions and motifs of classifiers.

The section also holds the compression tables (`compression`), so one page section answers "what does
the model use, and what survives making it smaller".
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from genolm.report.figures import stacked_heatmaps
from genolm.report.format import Block, figure, fmt, frame_rows, h3, note, p, section, slug, table
from genolm.report.load import Run, read_json, read_table
from genolm.report.sections.compression import compression, distillation

CLASSIFIER_GENES_SHOWN = 4  # one gene per class, as heatmaps
MOTIF_COLUMNS = ("motif", "class", "n_seqlets", "consensus", "best_match", "match_score", "p_value")
VARIANT_AXIS = "position relative to the variant (bp)"


def interpretation_section(run: Run) -> Block:
    """Variant and classifier interpretation, then int8 compression and distillation, where run."""
    blocks = [
        *variant_interpretation(run.results),
        *classifier_interpretation(run.results),
        *compression(run.results),
        *distillation(run.results),
    ]
    if not blocks:
        blocks.append(
            note("Not run (config keys interpret.enabled, compress.enabled and compress.distill.enabled).")
        )
    return section("interpretation", "Interpretation & compression", blocks)


def variant_interpretation(results: Path) -> list[Block]:
    """Per disease-risk task: ISM heatmaps and gradient x input of the top zero-shot variants."""
    blocks: list[Block] = []
    for task_dir in sorted(d for d in (results / "interpret").glob("*") if (d / "summary.json").is_file()):
        summary = read_json(task_dir / "summary.json")
        ism = read_table(task_dir / "ism.tsv", dtype={"id": str})
        variants = summary.get("variants", [])
        if ism is None or not variants:
            continue
        blocks.append(h3(f"Interpretation: {task_dir.name}", slug("interpret", task_dir.name)))
        blocks.append(
            p(
                f"In-silico mutagenesis of every base within {summary.get('flank')} bp of the top "
                f"{len(variants)} zero-shot test variants, scored like the zero-shot method (minus the "
                "log-likelihood ratio, both strands; red = the model finds the mutation less likely, 0 at "
                f"the reference base). Model: {summary.get('model')}. "
                f"Gradient x input: {summary.get('gradients')}."
            )
        )
        grids = [
            ism[ism["id"] == str(v["id"])].pivot(index="alt_base", columns="rel_pos", values="score")
            for v in variants
        ]
        titles = [
            f"{v['id']} {v.get('ref', '')}>{v.get('alt', '')} ({v.get('label', '?')})" for v in variants
        ]
        fig = stacked_heatmaps(
            grids,
            titles,
            row_height=140,
            x_title=VARIANT_AXIS,
            colour_title="score",
            hover_format=".3f",
            shared_xaxes=True,
        )
        blocks.append(figure(fig))
        attr = read_table(task_dir / "attributions.tsv", dtype={"id": str})
        if attr is not None and len(attr):
            grad = go.Figure()
            for vid, part in attr.groupby("id", sort=False):
                grad.add_scatter(x=part["rel_pos"], y=part["grad_x_input"], mode="lines+markers", name=vid)
            grad.update_layout(xaxis_title=VARIANT_AXIS, yaxis_title="gradient x input")
            blocks.append(figure(grad))
        blocks.append(_variant_table(variants))
    return blocks


def _variant_table(variants: list[dict]) -> Block:
    """The explained variants with their zero-shot score and the same score recomputed by ISM."""
    return table(
        ["Variant", "Label", "Zero-shot score", "ISM score", "Strongest other position"],
        [
            [
                str(v["id"]),
                str(v.get("label", "–")),
                v.get("score"),
                v.get("ism_score"),
                v.get("strongest_other_position"),
            ]
            for v in variants
        ],
        "ISM score: the variant's own entry of its matrix, recomputed (equals the zero-shot score).",
    )


def classifier_interpretation(results: Path) -> list[Block]:
    """Per explained classifier: per-base integrated gradients of a few genes, their ISM, the motif table."""
    blocks: list[Block] = []
    for path in sorted((results / "interpret" / "genes").glob("*/*/summary.json")):
        summary, task_dir = read_json(path), path.parent
        genes = summary.get("genes", [])
        label = f"{task_dir.parent.name} ({task_dir.name})"
        blocks.append(h3(f"Classifier interpretation: {label}", slug("interpret-genes", *path.parts[-3:-1])))
        blocks.append(
            p(
                f"{summary.get('method')}; the {summary.get('top_genes')} most confident correctly predicted "
                f"test genes per class ({len(genes)} genes). Red bases push the gene towards the explained "
                f"class. ISM: {summary.get('ism')}."
            )
        )
        attr = read_table(task_dir / "attributions.tsv", dtype={"id": str})
        shown = list({g["class"]: g for g in genes}.values())[:CLASSIFIER_GENES_SHOWN]
        if attr is not None and shown:
            grids = [
                attr[(attr["id"] == g["id"]) & (attr["class"] == g["class"])]
                .pivot(index="base", columns="pos", values="attribution")
                .reindex(list("ACGT"))
                for g in shown
            ]
            fig = stacked_heatmaps(
                grids,
                [f"{g['id']} → {g['class']} (p = {fmt(g.get('p'))})" for g in shown],
                row_height=150,
                x_title="position in the gene (bp, coding strand)",
                colour_title="attribution",
                hover_format=".4f",
            )
            blocks.append(figure(fig))
        blocks.append(_motifs(task_dir, summary, label))
    return blocks


def _motifs(task_dir: Path, summary: dict, label: str) -> Block:
    """The motifs clustered from a classifier's attribution seqlets, or a note that none qualified."""
    motifs = read_table(task_dir / "motifs.tsv")
    if motifs is None or not len(motifs):
        return note(f"No attribution motif with at least the configured seqlets ({label}).")
    columns, rows = frame_rows(motifs, MOTIF_COLUMNS)
    return table(
        columns,
        rows,
        "Motifs clustered from attribution seqlets (motifs.jaspar); best match in "
        f"{summary.get('motif_database') or 'no database (interpret.motif_database unset)'}.",
        numeric=False,
    )
