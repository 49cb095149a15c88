"""What the model was trained and evaluated on: genome and windows, splits, tokenizer, label tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genolm.io.annotation_issues import CAUSES
from genolm.names import SPLITS
from genolm.report.figures import MAX_TRACK_CONTIGS, split_track
from genolm.report.format import Block, figure, fmt, h3, is_number, kv, note, section, table
from genolm.report.load import FAMILIES, Run, read_json, read_table, require

LABEL_DIRS = (("gene_function", "genes"), ("disease_risk", "variants"))


def data_section(run: Run) -> Block:
    """The preprocessing summary, the split layout (table and track), the tokenizer and the label counts."""
    blocks: list[Block] = []
    summary = read_json(run.results / "preprocess" / "summary.json")
    if summary is None:
        blocks.append(note("No preprocessing summary (preprocess/summary.json) in this run."))
    else:
        blocks.append(h3("Genome"))
        blocks.append(_genome(summary))
        if summary.get("genomes"):
            blocks.append(_corpus(summary))
    splits_path = run.results / "preprocess" / "splits.tsv"
    splits = read_table(splits_path, dtype={"contig": str, "split": str})
    if splits is not None:
        require(splits, ("contig", "start", "end", "split"), splits_path)
    split_summary = (summary or {}).get("splits", {})
    if splits is not None or split_summary:
        blocks.append(h3("Splits"))
        blocks.append(_split_totals(splits, split_summary))
    if splits is not None and len(splits):
        n_contigs = splits["contig"].nunique()
        if n_contigs > MAX_TRACK_CONTIGS:
            blocks.append(note(f"Track shows the {MAX_TRACK_CONTIGS} longest of {n_contigs} contigs."))
        blocks.append(figure(split_track(splits)))
    blocks.append(h3("Tokenizer"))
    blocks.append(_tokenizer(run.results / "tokenizer"))
    blocks.append(h3("Labels"))
    blocks.extend(_labels(run.results / "labels"))
    return section("data", "Data", blocks)


def _genome(summary: dict) -> Block:
    """Contigs, bases and windows kept or dropped, from preprocess/summary.json."""
    bases, n_bases = summary.get("bases_read"), summary.get("n_bases")
    contigs = summary.get("contigs")
    n_frac = f" ({n_bases / bases:.2%})" if is_number(n_bases) and is_number(bases) and bases else ""
    max_n = summary.get("max_n_fraction")
    why = f" (more than {max_n:.0%} N)" if is_number(max_n) else ""
    return kv(
        [
            ("Contigs", fmt(len(contigs) if isinstance(contigs, list | dict) else contigs)),
            ("Bases read", fmt(bases)),
            ("N bases", fmt(n_bases) + n_frac),
            ("Window / stride", f"{fmt(summary.get('window'))} / {fmt(summary.get('stride'))} bp"),
            ("Windows (all)", fmt(summary.get("windows_total"))),
            ("Windows kept", fmt(summary.get("windows_kept"))),
            ("Windows dropped", fmt(summary.get("dropped_n")) + why),
        ]
    )


def _corpus(summary: dict) -> Block:
    """One row per pretraining-corpus genome: its size, what the filters kept, and windows per split."""
    rows = []
    for name, g in summary["genomes"].items():
        role = (
            "task genome"
            if g.get("task_genome")
            else (f"held out ({g['held_out']})" if g.get("held_out") else "")
        )
        if g.get("sequences"):
            role = "sequences (train only)"
        splits = g.get("splits", {})
        rows.append(
            [
                name,
                role or "–",
                fmt(g.get("contigs")),
                fmt(g.get("bases_read")),
                *(fmt(splits.get(s, {}).get("windows")) for s in SPLITS),
                fmt(sum((g.get("dropped") or {}).values())),
            ]
        )
    caption = (
        f"Pretraining corpus: {len(rows)} genomes, sampled {summary.get('sampling', 'proportionally')} "
        "across genomes (train windows after sampling; val and test are never resampled)."
    )
    return table(["Genome", "Role", "Contigs", "Bases", *SPLITS, "Dropped"], rows, caption)


def _split_totals(splits: pd.DataFrame | None, summary: dict) -> Block:
    """Blocks and bases per split from splits.tsv beside the windows per split from the summary."""
    names = [s for s in SPLITS if s in summary or (splits is not None and s in set(splits["split"]))]
    rows = []
    for split in names:
        part = splits[splits["split"] == split] if splits is not None else None
        rows.append(
            [
                split,
                len(part) if part is not None else None,
                int((part["end"] - part["start"]).sum()) if part is not None else None,
                summary.get(split, {}).get("windows"),
                summary.get(split, {}).get("bases"),
            ]
        )
    return table(
        ["Split", "Blocks", "Bases in blocks", "Windows", "Window bases"],
        rows,
        "Contiguous blocks per split; gaps between blocks belong to no split, so no window straddles two.",
    )


def _tokenizer(directory: Path) -> Block:
    """The tokenizer's kind (and k) and vocabulary size, from its saved files."""
    config = read_json(directory / "tokenizer_config.json")
    tok = read_json(directory / "tokenizer.json")
    if config is None and tok is None:
        return note("No tokenizer in this run.")
    kind = (config or {}).get("genolm_kind") or (config or {}).get("tokenizer_class") or "unknown"
    k = (config or {}).get("genolm_k")
    vocab = ((tok or {}).get("model") or {}).get("vocab")
    return kv(
        [
            ("Kind", f"{kind} (k={k})" if isinstance(k, int) and k > 1 else str(kind)),
            ("Vocabulary size", fmt(len(vocab)) if vocab is not None else "–"),
        ]
    )


def _labels(directory: Path) -> list[Block]:
    """One class-by-split count table per labelled task, with what was dropped and why."""
    blocks: list[Block] = []
    for family, subdir in LABEL_DIRS:
        for path in sorted((directory / subdir).glob("*.summary.json")):
            summary = read_json(path)
            task = path.name.removesuffix(".summary.json")
            per_split = summary.get("per_split", {})
            classes = summary.get("classes", {})
            rows = [
                [str(c), *(per_split.get(s, {}).get(c, 0) for s in SPLITS), n] for c, n in classes.items()
            ]
            dropped = summary.get("dropped", {})
            caption = (
                f"{FAMILIES[family]} task {task}: {fmt(summary.get('rows'))} labelled rows. Dropped: "
                + (", ".join(f"{reason} {fmt(n)}" for reason, n in dropped.items() if n) or "none")
            )
            blocks.append(table(["Class", *SPLITS, "total"], rows, caption))
            blocks += [note(f"Warning ({task}): {w}") for w in summary.get("warnings", [])]
            issues = summary.get("annotation_issues") or {}
            if issues:
                blocks.append(_annotation_issues(task, issues))
    return blocks or [note("No label summaries in this run.")]


def _annotation_issues(task: str, issues: dict[str, dict]) -> Block:
    """What the lenient annotation reader tolerated for a task, cause by cause, with a first example."""
    rows = [
        [cause, CAUSES.get(cause, "–"), fmt(item.get("count")), str(item.get("example", "–"))]
        for cause, item in sorted(issues.items())
    ]
    caption = (
        f"Annotation rows tolerated while labelling {task} (set annotation.strict: true to refuse them "
        "instead). Which genes are labelled follows from what each row says it did."
    )
    return table(["Cause", "What happened", "Rows", "First example"], rows, caption, numeric=False)
