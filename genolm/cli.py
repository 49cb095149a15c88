"""`genolm` command line: apply what the workflow built without rerunning it.

Each subcommand is a small function `_cmd_<name>(args)` registered in `main`.
"""

from __future__ import annotations

import argparse
import sys

from genolm.errors import GenolmError
from genolm.logs import setup_logging


def _cmd_compare(args: argparse.Namespace) -> None:
    from genolm.report import compare_runs

    compare_runs(args.runs, args.output)


def _cmd_score_variants(args: argparse.Namespace) -> None:
    from genolm.variants import score_vcf

    score_vcf(args.model, args.vcf, args.genome, args.output, window=args.window)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genolm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    compare = sub.add_parser("compare", help="one report putting two or more run directories side by side")
    compare.add_argument("runs", nargs="+", help="results/<run> directories")
    compare.add_argument("-o", "--output", required=True, help="HTML file to write")
    compare.set_defaults(func=_cmd_compare)

    score = sub.add_parser("score-variants", help="zero-shot scores (higher = more damaging) of a VCF's SNVs")
    score.add_argument("--model", required=True, help="model directory (results/<run>/pretrain/model)")
    score.add_argument("--vcf", required=True, help="VCF (plain or bgzipped)")
    score.add_argument("--genome", required=True, help="reference FASTA (plain or gzipped)")
    score.add_argument("--window", type=int, default=128, help="bases around each variant (default 128)")
    score.add_argument("-o", "--output", required=True, help="TSV to write: id, contig, pos, ref, alt, score")
    score.set_defaults(func=_cmd_score_variants)

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
