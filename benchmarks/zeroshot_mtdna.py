"""Why is the mtDNA zero-shot AUROC below chance? The raw LLR next to composition and context backgrounds.

Runs config/mtdna.yaml (real rCRS + ClinVar mtDNA SNVs from ../shared/data/clinvar_mtdna/, symlinked into
the workdir's resources/mtdna/) with fewer pretraining steps, only up to the zero-shot scores and the
variant table (or reuses a finished run), then, for every labelled variant of every split:

- the LM's masked-marginal LLR per strand (forward, reverse complement) and their mean, which must equal
  minus the workflow's zero-shot score on the test rows (checked);
- background LLRs from `genolm.zeroshot_calibration` fitted on the pretraining text
  (`preprocess/windows/train.npy`): base composition (`bg0`, flank 0) and centred 3-/5-mer context models
  (`bg1`, `bg2`), per strand and strand-averaged;
- calibrated LLRs: minus the strand-averaged background (`calibrated_mean<k>`), minus the background with
  per-strand weights fitted by least squares on the unlabelled train-split rows (`calibrated_fitted<k>`),
  minus the forward-strand composition alone (over-subtracts: shown as a warning), and minus the LM's mean
  LLR of the same substitution type over the unlabelled train-split rows (`substitution_centred`, what the
  product's `zeroshot_calibrated` reports);
- AUROC of minus each LLR (higher = more pathogenic) on the test split and on all splits with 95%
  bootstrap CIs, per split, by substitution (ref>alt), transition/transversion, ref base, region and
  coding strand, the mean within-substitution AUROC, and a paired bootstrap of calibrated minus raw;
- correlations of the LLR with the backgrounds, and the label mix of each substitution and region.

Regions come from the variant table's `gene` column (ClinVar GENEINFO): MT-T* tRNA, MT-RNR* rRNA,
other MT-* protein coding; no gene inside 16024-576 is the D-loop (the standard rCRS annotation,
NC_012920.1 / MITOMAP). Genes read from the L strand (MT-ND6 and the tRNAs Q, A, N, C, Y, S1, E, P) are
the standard rCRS annotation too. Both are used for this analysis only, never by the product.

With --json, stdout holds exactly one JSON object; logs go to stderr.

    python benchmarks/zeroshot_mtdna.py --workdir /tmp/zs_mtdna --steps 600 --json
    python benchmarks/zeroshot_mtdna.py --results /tmp/zs_mtdna/results/mtdna --json   # reuse a run
    python benchmarks/zeroshot_mtdna.py --workdir /tmp/zs_rc --reverse-complement --json  # RC-augmented LM
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genolm.metrics import binary_scores, classification_metrics  # noqa: E402
from genolm.zeroshot_calibration import (  # noqa: E402
    calibrated_llr,
    centred_llr,
    fit_background,
    fit_strand_weights,
    strand_background_llr,
    substitution_offsets,
)

LOG = logging.getLogger("zeroshot_mtdna")
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DATA = REPO.parent / "shared" / "data" / "clinvar_mtdna"
TABLE = "labels/variants/clinvar_mt.tsv"
SCORES = "disease_risk/clinvar_mt/zeroshot/scores.tsv"
TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}
GROUPS = ("substitution", "transition", "ref_base", "region", "coding_strand")
L_STRAND_GENES = {"MT-ND6", "MT-TQ", "MT-TA", "MT-TN", "MT-TC", "MT-TY", "MT-TS1", "MT-TE", "MT-TP"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, help="a finished mtdna run's results/<run> folder (skips the run)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/zs_mtdna"))
    p.add_argument("--data", type=Path, default=DATA, help="folder of the rCRS FASTA and ClinVar mtDNA VCF")
    p.add_argument("--steps", type=int, default=600, help="pretrain.max_steps")
    p.add_argument("--seed", type=int, default=42, help="workflow seed (pretraining) and bootstrap seed")
    p.add_argument("--reverse-complement", action="store_true", help="preprocess.reverse_complement: true")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    return p.parse_args()


def run_workflow(args: argparse.Namespace) -> Path:
    """config/mtdna.yaml with fewer steps, up to the zero-shot scores; returns results/<run>."""
    work = args.workdir
    (work / "resources" / "mtdna").mkdir(parents=True, exist_ok=True)
    for name, target in (
        ("NC_012920.1.fa.gz", "NC_012920.1.fa.gz"),
        ("clinvar_MT.vcf.gz", "clinvar_MT_2022-05-25.vcf.gz"),
    ):
        link = work / "resources" / "mtdna" / name
        if not link.exists():
            link.symlink_to((args.data / target).resolve())
    override = work / "small.yaml"
    settings = {"seed": args.seed, "pretrain": {"max_steps": args.steps}}
    if args.reverse_complement:
        settings["preprocess"] = {"reverse_complement": True}
    override.write_text(yaml.safe_dump(settings))
    results = work / "results" / "mtdna"
    cmd = [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--cores",
        str(args.cores),
    ]
    cmd += [f"results/mtdna/{SCORES}", f"results/mtdna/{TABLE}"]
    cmd += ["--configfile", str(REPO / "config" / "mtdna.yaml"), str(override)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    LOG.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"snakemake failed:\n{proc.stderr[-3000:]}")
    return results


def strand_llrs(model_dir: Path, table: pd.DataFrame, batch: int = 64) -> np.ndarray:
    """(n, 2) masked-marginal LLR on the forward and reverse-complement windows, as zero_shot_llr does."""
    import torch

    from genolm.inference import load_pretrained
    from genolm.sequence import reverse_complement
    from genolm.variants import _masked_logprob  # the scorer's own per-strand step, to split the strands

    torch.set_num_threads(2)
    pre = load_pretrained(model_dir)
    out = np.empty((len(table), 2))
    for i in range(0, len(table), batch):
        part = table.iloc[i : i + batch]
        for j, rc in enumerate((False, True)):
            ref = [reverse_complement(w) if rc else w for w in part["ref_window"]]
            alt = [reverse_complement(w) if rc else w for w in part["alt_window"]]
            base = [len(w) - 1 - o if rc else o for w, o in zip(ref, part["offset"], strict=True)]
            out[i : i + len(part), j] = _masked_logprob(pre, alt, base) - _masked_logprob(pre, ref, base)
    return out


def region(gene: str, pos: int) -> str:
    gene = gene if isinstance(gene, str) else ""
    if gene.startswith("MT-T"):
        return "tRNA"
    if gene.startswith("MT-RNR"):
        return "rRNA"
    if gene.startswith("MT-"):
        return "protein"
    return "D-loop" if pos >= 16024 or pos <= 576 else "other non-coding"


def auroc(y: np.ndarray, score: np.ndarray) -> float | None:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else None


def with_ci(y: np.ndarray, score: np.ndarray, seed: int) -> dict:
    m = classification_metrics(y, binary_scores(score), ["benign", "pathogenic"], seed=seed)["metrics"]
    return {k: round(v, 4) for k, v in m["auroc"].items()} | {"n": int(len(y)), "n_pathogenic": int(y.sum())}


def paired_difference(y: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int, n_boot: int = 1000) -> dict:
    """AUROC(a) - AUROC(b) on the same rows, with a percentile bootstrap 95% CI over rows."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            diffs.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"value": round(auroc(y, a) - auroc(y, b), 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4)}


def grouped(frame: pd.DataFrame, by: str, scores: list[str], min_each: int = 5) -> dict:
    """Per group: counts, AUROC of each score inside the group, mean LLRs by label."""
    out = {}
    for key, g in frame.groupby(by):
        y = g["label"].to_numpy()
        entry = {"n": len(g), "n_pathogenic": int(y.sum()), "pathogenic_fraction": round(float(y.mean()), 3)}
        if min(y.sum(), len(y) - y.sum()) >= min_each:
            entry["auroc"] = {s: round(auroc(y, g[s].to_numpy()), 3) for s in scores}
        for label, part in g.groupby("label"):
            name = "pathogenic" if label == 1 else "benign"
            entry[f"mean_llr_{name}"] = round(float(part["raw_llr"].mean()), 3)
            entry[f"mean_composition_llr_{name}"] = round(float(part["raw_bg0"].mean()), 3)
        out[str(key)] = entry
    return out


def stratified_auroc(frame: pd.DataFrame, by: str, score: str, min_each: int = 5) -> float:
    """Mean within-group AUROC weighted by group size: the ranking inside each substitution type."""
    parts = [
        (len(g), auroc(g["label"].to_numpy(), g[score].to_numpy()))
        for _, g in frame.groupby(by)
        if min(g["label"].sum(), len(g) - g["label"].sum()) >= min_each
    ]
    return round(sum(n * a for n, a in parts) / sum(n for n, _ in parts), 4)


def llr_columns(results: Path) -> tuple[pd.DataFrame, dict]:
    """The variant table with every LLR column (alt vs ref; a pathogenicity score is minus it)."""
    table = pd.read_csv(results / TABLE, sep="\t", dtype={"id": str})
    table["alt_window"] = [
        w[:o] + a + w[o + 1 :]
        for w, o, a in zip(table["ref_window"], table["offset"], table["alt"], strict=True)
    ]
    train_windows = np.load(results / "preprocess" / "windows" / "train.npy", mmap_mode="r")
    LOG.info("%d variants, %d train windows", len(table), len(train_windows))
    per_strand = strand_llrs(results / "pretrain" / "model", table)
    table["llr"] = per_strand.mean(1)
    table["llr_forward"], table["llr_reverse"] = per_strand[:, 0], per_strand[:, 1]
    workflow = pd.read_csv(results / SCORES, sep="\t", dtype={"id": str}).set_index("id")["score"]
    test = table[table["split"] == "test"]
    info = {
        "check_max_abs_diff_vs_workflow_scores": float(
            np.abs(-test["llr"].to_numpy() - workflow.loc[test["id"]].to_numpy()).max()
        )
    }
    train = (table["split"] == "train").to_numpy()
    for k in (0, 1, 2):
        bg = fit_background(train_windows, flank=k)
        strands = strand_background_llr(bg, table)
        table[f"bg{k}"] = strands.mean(1)
        table[f"bg{k}_forward"], table[f"bg{k}_reverse"] = strands[:, 0], strands[:, 1]
        table[f"calibrated_mean{k}"] = calibrated_llr(table["llr"], table, bg)
        weights = fit_strand_weights(table["llr"][train], table[train], bg)
        table[f"calibrated_fitted{k}"] = calibrated_llr(table["llr"], table, bg, weights)
        residual = table[f"calibrated_fitted{k}"][train]
        info[f"flank{k}"] = {
            "strand_weights_fitted_on_train_rows": [round(float(w), 4) for w in weights],
            "r2_of_llr_explained_on_train_rows": round(
                1 - float(residual.var() / table["llr"][train].var()), 4
            ),
        }
        if k == 0:
            info["train_composition_ACGT"] = [round(float(f), 4) for f in np.exp(bg.log_composition)]
    table["llr_minus_forward_composition"] = table["llr"] - table["bg0_forward"]
    offsets = substitution_offsets(table["llr"][train], table[train])
    table["substitution_centred"] = centred_llr(table["llr"], table, offsets)

    return table, info


def labelled_groups(table: pd.DataFrame) -> pd.DataFrame:
    """Label, split and the groups the AUROC is broken down by, one row per variant."""
    return pd.DataFrame(
        {
            "label": table["label"],
            "split": table["split"],
            "substitution": table["ref"] + ">" + table["alt"],
            "transition": [
                "transition" if (r, a) in TRANSITIONS else "transversion"
                for r, a in zip(table["ref"], table["alt"], strict=True)
            ],
            "ref_base": table["ref"],
            "region": [region(g, p) for g, p in zip(table["gene"], table["pos"], strict=True)],
            "coding_strand": [
                "L"
                if g in L_STRAND_GENES
                else ("H" if isinstance(g, str) and g.startswith("MT-") else "none")
                for g in table["gene"]
            ],
            "raw_llr": table["llr"],
            "raw_bg0": table["bg0"],
        }
    )


def correlations(table: pd.DataFrame) -> dict:
    pairs = [("llr", f"bg{k}") for k in (0, 1, 2)]
    pairs += [("llr_forward", "bg0_forward"), ("llr_reverse", "bg0_reverse")]
    return {
        f"{a} vs {b}": {
            "pearson": round(float(pearsonr(table[a], table[b])[0]), 4),
            "spearman": round(float(spearmanr(table[a], table[b])[0]), 4),
        }
        for a, b in pairs
    }


def analyse(results: Path, seed: int) -> dict:
    table, info = llr_columns(results)
    columns = ["llr", "llr_forward", "llr_reverse", "bg0", "bg0_forward", "bg0_reverse", "bg1", "bg2"]
    columns += [f"calibrated_{how}{k}" for how in ("mean", "fitted") for k in (0, 1, 2)]
    columns += ["llr_minus_forward_composition", "substitution_centred"]
    frame = labelled_groups(table)
    for c in columns:
        frame[c] = -table[c]  # every column is an LLR; its pathogenicity score is minus it
    y = frame["label"].to_numpy()
    test = (frame["split"] == "test").to_numpy()
    group_cols = ["llr", "bg0", "calibrated_mean0", "calibrated_fitted0", "substitution_centred"]
    paired = {}
    for product in ("substitution_centred", "calibrated_fitted0"):
        for name, rows in (("test", test), ("all", np.ones(len(y), bool))):
            paired[f"{product}_minus_llr_{name}"] = paired_difference(
                y[rows], frame[product].to_numpy()[rows], frame["llr"].to_numpy()[rows], seed
            )
    return {
        "run": str(results),
        "seed": seed,
        "n_variants": int(len(table)),
        **info,
        "fraction_llr_negative": round(float((table["llr"] < 0).mean()), 4),
        "auroc_test": {c: with_ci(y[test], frame[c].to_numpy()[test], seed) for c in columns},
        "auroc_all_splits": {c: with_ci(y, frame[c].to_numpy(), seed) for c in columns},
        **paired,
        "by_split": {
            s: {c: round(auroc(g["label"].to_numpy(), g[c].to_numpy()), 4) for c in columns}
            for s, g in frame.groupby("split")
        },
        "within_substitution_auroc": {c: stratified_auroc(frame, "substitution", c) for c in group_cols},
        "correlation": correlations(table),
        **{f"by_{by}": grouped(frame, by, group_cols) for by in GROUPS},
    }


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args()
    results = args.results or run_workflow(args)
    summary = analyse(results, args.seed)
    if args.json:
        print(json.dumps(summary))
        return
    for split in ("auroc_test", "auroc_all_splits"):
        print(split)
        for name, entry in summary[split].items():
            print(f"  {name:14s} {entry['value']:.3f} [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]")


if __name__ == "__main__":
    main()
