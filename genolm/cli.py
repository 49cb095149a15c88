"""`genolm` command line: apply what the workflow built without rerunning it.

Each subcommand is a small function `_cmd_<name>(args)` registered in `main`.
"""

from __future__ import annotations

import argparse
import sys

from genolm.errors import GenolmError
from genolm.logs import setup_logging

#: `--model` of the commands that run the pretrained language model.
PRETRAINED = "model directory (results/<run>/pretrain/model)"


def _cmd_compare(args: argparse.Namespace) -> None:
    from genolm.report import compare_runs

    compare_runs(args.runs, args.output)


def _device(args: argparse.Namespace):
    """The torch device `--gpus` asks for (a one-line error when it is 1 and torch sees no GPU)."""
    from genolm.device import resolve_device

    return resolve_device(args.gpus, "--gpus")


def _cmd_score_variants(args: argparse.Namespace) -> None:
    from genolm.variants import score_vcf

    score_vcf(
        args.model, args.vcf, args.genome, args.output, window=args.window, gpus=args.gpus, setting="--gpus"
    )


def _cmd_embed(args: argparse.Namespace) -> None:
    from genolm.inference import embed, load_pretrained
    from genolm.io.fasta import decode, iter_fasta

    pre = load_pretrained(args.model, _device(args))
    records = [(name, decode(codes)) for name, codes in iter_fasta(args.fasta)]
    vectors = embed(pre, [seq for _, seq in records], max_chunks=args.max_chunks)
    write_embeddings([name for name, _ in records], vectors, args.output)


def write_embeddings(ids: list[str], vectors, path: str) -> None:
    """Write embeddings as `.npy` (the (records, hidden) float32 matrix in FASTA order) or `.tsv` (id, then
    e0, e1, ... per record), atomically.

    Args:
        ids: the FASTA record names, in order.
        vectors: one embedding per record.
        path: where to write; its ending picks the format.

    Raises:
        GenolmError: `path` ends in neither .npy nor .tsv.
    """
    import numpy as np
    import pandas as pd

    from genolm.atomic import atomic_path

    if path.endswith(".npy"):
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.asarray(vectors, dtype=np.float32))
    elif path.endswith(".tsv"):
        table = pd.DataFrame(vectors, columns=[f"e{i}" for i in range(vectors.shape[1])])
        table.insert(0, "id", ids)
        with atomic_path(path) as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    else:
        raise GenolmError(f"{path}: expected an output ending in .npy or .tsv")


def _cmd_risk(args: argparse.Namespace) -> None:
    from genolm.risk import individual_risk

    metrics = args.metrics or (_metrics_next_to(args.output) if args.labels else None)
    individual_risk(args.scores, args.genotypes, args.output, labels_tsv=args.labels, metrics_json=metrics)


def _metrics_next_to(output: str) -> str:
    """The default `--metrics` of a command writing the TSV `output`: <output>.metrics.json beside it."""
    return str(output).removesuffix(".tsv") + ".metrics.json"


def _cmd_prioritise(args: argparse.Namespace) -> None:
    from genolm.prioritise import BURDEN_SETTINGS, prioritise

    scores = {}
    for spec in args.scores:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise GenolmError(f"--scores {spec}: expected NAME=PATH, e.g. zeroshot=scores.tsv")
        scores[name] = path
    prioritise(
        args.annotation,
        args.output,
        args.metrics or _metrics_next_to(args.output),
        scores=scores,
        genome=args.genome,
        genotypes=args.genotypes,
        labels=args.labels,
        known_genes=args.known_genes,
        seed=args.seed,
        **{name: getattr(args, name) for name in BURDEN_SETTINGS},
    )


def _cmd_predict(args: argparse.Namespace) -> None:
    from genolm.finetune import predict_fasta

    predict_fasta(args.model, args.fasta, args.out, device=_device(args))


def _add_model(parser: argparse.ArgumentParser, what: str = PRETRAINED) -> None:
    """`--model` (a directory: `what` says which) and `--gpus`, the options of every command that runs one."""
    parser.add_argument("--model", required=True, help=what)
    parser.add_argument(
        "--gpus",
        type=int,
        choices=(0, 1),
        default=0,
        help="1: compute on the GPU (bf16 autocast where supported, larger batches); 0: the CPU (default)",
    )


def _add_prioritise(sub) -> None:
    """The `prioritise` command's options (genes ranked by their variants' scores, cohort burden tests)."""
    prio = sub.add_parser(
        "prioritise", help="rank genes by their variants' scores and, with a cohort, burden tests"
    )
    prio.add_argument("--annotation", required=True, help="GFF3/GTF/GenBank placing variants in genes")
    prio.add_argument(
        "--scores",
        required=True,
        action="append",
        help="NAME=PATH of a scores TSV (contig, pos, ref, alt, score); repeatable",
    )
    prio.add_argument(
        "--genotypes", help="cohort VCF with GT (needs --labels and --genome): adds burden tests"
    )
    prio.add_argument("--labels", help="TSV with columns sample, label (case/control or 1/0) and covariates")
    prio.add_argument("--genome", help="reference FASTA, for the consequence-weighted burden")
    prio.add_argument("--covariates", nargs="*", default=[], help="columns of --labels to adjust for")
    prio.add_argument("--known-genes", help="TSV with a gene column: report their ranks and recall at 10")
    prio.add_argument("--max-af", type=float, default=0.05, help="rare-variant cut (default 0.05)")
    prio.add_argument(
        "--permutations", type=int, default=1000, help="for genes with few carriers (default 1000)"
    )
    prio.add_argument(
        "--permutation-below",
        type=int,
        default=20,
        help="carriers below which permutation p is used (default 20)",
    )
    prio.add_argument("--seed", type=int, default=42, help="fold and permutation seed (default 42)")
    prio.add_argument("--metrics", help="metrics JSON to write (default: <output>.metrics.json)")
    prio.add_argument("-o", "--output", required=True, help="genes TSV to write, ranked per method")
    prio.set_defaults(func=_cmd_prioritise)


def main(argv: list[str] | None = None) -> int:
    """Run one `genolm` subcommand.

    Args:
        argv: the arguments after `genolm` (None: the process's).

    Returns:
        The exit status: 0, or 1 after printing a GenolmError as one `genolm: error:` line.
    """
    parser = argparse.ArgumentParser(prog="genolm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    compare = sub.add_parser("compare", help="one report putting two or more run directories side by side")
    compare.add_argument("runs", nargs="+", help="results/<run> directories")
    compare.add_argument("-o", "--output", required=True, help="HTML file to write")
    compare.set_defaults(func=_cmd_compare)

    score = sub.add_parser("score-variants", help="zero-shot scores (higher = more damaging) of a VCF's SNVs")
    _add_model(score)
    score.add_argument("--vcf", required=True, help="VCF (plain or bgzipped)")
    score.add_argument("--genome", required=True, help="reference FASTA (plain or gzipped)")
    score.add_argument("--window", type=int, default=128, help="bases around each variant (default 128)")
    score.add_argument("-o", "--output", required=True, help="TSV to write: id, contig, pos, ref, alt, score")
    score.set_defaults(func=_cmd_score_variants)

    emb = sub.add_parser("embed", help="mean-pooled embedding of every FASTA record")
    _add_model(emb)
    emb.add_argument("--fasta", required=True, help="FASTA (plain or gzipped), one embedding per record")
    emb.add_argument("--max-chunks", type=int, default=8, help="windows pooled per record (default 8)")
    emb.add_argument("-o", "--output", required=True, help=".npy (matrix, FASTA order) or .tsv (id, e0, ...)")
    emb.set_defaults(func=_cmd_embed)

    risk = sub.add_parser(
        "risk", help="per-sample risk: dosage-weighted sum and max of carried variant scores"
    )
    risk.add_argument("--scores", required=True, help="scores TSV (contig, pos, ref, alt, score)")
    risk.add_argument("--genotypes", required=True, help="multi-sample VCF with GT")
    risk.add_argument("--labels", help="TSV with columns sample, label (case/control or 1/0): adds AUROC")
    risk.add_argument(
        "--metrics", help="metrics JSON to write (default: <output>.metrics.json with --labels)"
    )
    risk.add_argument("-o", "--output", required=True, help="TSV to write, one row per sample")
    risk.set_defaults(func=_cmd_risk)
    _add_prioritise(sub)

    predict = sub.add_parser("predict", help="classify FASTA records with a saved gene-function classifier")
    _add_model(predict, "classifier directory (results/<run>/gene_function/<task>/<method>/model)")
    predict.add_argument("--fasta", required=True, help="FASTA (plain or gzipped), one prediction per record")
    predict.add_argument("-o", "--out", required=True, help="TSV to write: id, prediction, p_<class>, ...")
    predict.set_defaults(func=_cmd_predict)

    args = parser.parse_args(argv)
    setup_logging()
    try:
        args.func(args)
    except GenolmError as err:
        print(f"genolm: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
