"""Fuzzed and hand-made nasty inputs for every reader: parse, or one-line GenolmError naming the file.

Each reader gets `--fuzz-examples N` (or GENOLM_FUZZ_EXAMPLES, default 50) hypothesis examples built
from format-aware pieces (valid-looking rows with broken fields, stray bytes, gzip, truncation); any
other exception, a hang (SIGALRM after HANG_SECONDS) or an insane parse fails the test. The nasty
corpus in tests/data/nasty/ pins the exact outcome of each known-awkward input. A table of cases
tried / parsed / refused is printed at the end of the module.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import itertools
import os
import signal
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml
from conftest import REPO, SNAKEMAKE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from genolm.download import fetch
from genolm.errors import GenolmError
from genolm.io.annotation import read_annotation, read_genes
from genolm.io.contigs import reconcile_contigs
from genolm.io.fasta import decode, iter_fasta
from genolm.io.tables import read_table
from genolm.io.vcf import read_genotypes, read_variants_counted
from genolm.labels import build_gene_table, build_variant_table
from genolm.names import GENE_COLUMNS, VARIANT_COLUMNS
from genolm.splits import split_genome

NASTY = Path(__file__).parent / "data" / "nasty"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
HANG_SECONDS = 20
TALLY: dict[str, Counter] = defaultdict(Counter)


def _examples(config: pytest.Config) -> int:
    option = config.getoption("--fuzz-examples")
    return option if option is not None else int(os.environ.get("GENOLM_FUZZ_EXAMPLES", "50"))


@pytest.fixture(scope="module", autouse=True)
def summary_table(request):
    """Print how many cases each reader saw and how they ended."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{'reader':<28}{'tried':>7}{'parsed':>8}{'refused':>9}"]
    for reader, n in sorted(TALLY.items()):
        lines.append(f"{reader:<28}{n['tried']:>7}{n['parsed']:>8}{n['refused']:>9}")
    total = sum(TALLY.values(), Counter())
    lines.append(f"{'total':<28}{total['tried']:>7}{total['parsed']:>8}{total['refused']:>9}")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter and capture:
        with capture.global_and_fixture_disabled():  # show the table even when output is captured
            reporter.write_line("\nfuzz + nasty corpus summary (no other outcome is allowed):")
            for line in lines:
                reporter.write_line(line)


@contextlib.contextmanager
def _deadline(seconds: int):
    """Fail a call that runs longer than `seconds` (hypothesis' own deadline only reports after return)."""

    def _raise(signum, frame):  # noqa: ARG001
        raise TimeoutError(f"reader hung for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def attempt(reader: str, path: Path, call):
    """Run `call(path)`; a GenolmError must be one line naming the file. Returns the parse or None."""
    TALLY[reader]["tried"] += 1
    try:
        with _deadline(HANG_SECONDS):
            result = call(path)
    except GenolmError as err:
        message = str(err)
        assert "\n" not in message and message.strip(), repr(message)
        assert str(path) in message, f"message does not name {path}: {message}"
        TALLY[reader]["refused"] += 1
        return None
    TALLY[reader]["parsed"] += 1
    return result


def fuzz(request, tmp_path: Path, reader: str, strategy, call, suffix: str) -> None:
    """Feed `strategy`'s bytes, written to a file, to `call` under `attempt`."""
    counter = itertools.count()
    larger = request.config.getoption("--fuzz-examples") or os.environ.get("GENOLM_FUZZ_EXAMPLES")

    @settings(
        max_examples=_examples(request.config),
        deadline=None,  # timing on a shared 2-core CI box is noise; hangs are caught by _deadline
        database=None,
        derandomize=not larger,  # CI sees the same cases every run; a larger budget explores afresh
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(data: bytes) -> None:
        path = tmp_path / f"case{next(counter)}{suffix}"
        path.write_bytes(data)
        attempt(reader, path, call)

    run()


# ------------------------------------------------------------------ strategies


def _compressed(raw: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Plain, gzip, or gzip cut short at a drawn point."""

    def wrap(args: tuple[bytes, str, float]) -> bytes:
        data, how, cut = args
        if how == "plain":
            return data
        packed = gzip.compress(data, mtime=0)
        return packed if how == "gzip" else packed[: max(2, int(len(packed) * cut))]

    return st.tuples(raw, st.sampled_from(["plain", "plain", "gzip", "cut"]), st.floats(0, 0.99)).map(wrap)


def _lines(line: st.SearchStrategy[str], max_size: int = 12) -> st.SearchStrategy[bytes]:
    """Lines joined with LF, CRLF or CR, maybe a BOM, maybe a stray non-UTF-8 byte, maybe no final EOL."""
    return _joined(st.lists(line, max_size=max_size))


def _joined(lines: st.SearchStrategy[list[str]]) -> st.SearchStrategy[bytes]:
    def join(args) -> bytes:
        lines, eol, bom, stray, final = args
        text = eol.join(lines) + (eol if final else "")
        data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
        return data + b"\xff\n" if stray else data

    return st.tuples(
        lines,
        st.sampled_from(["\n", "\n", "\r\n", "\r"]),
        st.booleans(),
        st.sampled_from([False] * 9 + [True]),
        st.booleans(),
    ).map(join)


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_INT = st.one_of(
    st.integers(1, 80).map(str),
    st.integers(1, 80).map(str),
    st.integers(-3, 0).map(str),
    st.sampled_from(["", "x", "1e3", "99999999999999999999"]),
)
_STRAND = st.sampled_from(["+", "-", ".", "?", "x", ""])
_CONTIG = st.sampled_from(["chr1", "c2", "MT", "", "chr1 x"])

_VALID_SEQ = st.text(alphabet="ACGTNacgtnRYKMSWBDHV", min_size=1, max_size=40)
_SEQ = st.one_of(_VALID_SEQ, _VALID_SEQ, _VALID_SEQ, st.text(alphabet="ACGTNacgtn-*. 1\t", max_size=40))
_NAME = st.one_of(st.sampled_from(["chr1", "c2", "MT", "chr1", "x desc"]), st.sampled_from(["", " "]), _TEXT)
_JUNK = st.one_of(st.just([]), st.just([]), st.just([]), st.lists(_TEXT, min_size=1, max_size=1))
_SEQ_LINES = st.one_of(*[st.lists(_SEQ, min_size=1, max_size=3)] * 3, st.just([]))
# Records of a header and sequence lines, sometimes preceded or followed by a junk line.
_NASTY_FASTA = st.tuples(
    _JUNK,
    st.lists(st.tuples(_NAME.map(lambda n: ">" + n), _SEQ_LINES), max_size=4),
    _JUNK,
).map(lambda parts: [*parts[0], *(line for h, seq in parts[1] for line in (h, *seq)), *parts[2]])
# Well-formed records (unique names, valid bases) half the time, so the parse path is fuzzed too.
_GOOD_FASTA = st.dictionaries(
    st.from_regex(r"[A-Za-z0-9_.|]{1,8}", fullmatch=True),
    st.lists(_VALID_SEQ, min_size=1, max_size=3),
    min_size=1,
).map(lambda records: [line for name, seq in records.items() for line in (f">{name} x", *seq)])
FASTA_LINES = st.one_of(_GOOD_FASTA, _NASTY_FASTA)

GFF_ATTR = st.one_of(
    st.sampled_from(
        [
            "ID=g1",
            "ID=g2",
            "ID=t1",
            "ID=c1",
            "Parent=g1",
            "Parent=t1",
            "Parent=g2,t1",
            "Parent=zz",
            "Parent=",
            "ID=",
            "locus_tag=b0001",
            "Name=thrL",
            "Dbxref=GO:0005524,EC:1.1.1.1",
            "Ontology_term=GO:0000001",
            "go_function=ATP binding|0005524||IEA",
            "ec_number=2.7.1.1",
            "product=%E2%9C%93 x",
            "pseudo=true",
            "gene_biotype=rRNA",
            "%zz=%",
            "=",
            "",
        ]
    ),
    _TEXT,
)
GFF_TYPE = st.one_of(
    st.sampled_from(["gene", "mRNA", "CDS", "exon", "tRNA", "pseudogene", "ncRNA_gene", "region"]), _TEXT
)


def _row(attrs: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    cols = st.tuples(
        _CONTIG, st.just("src"), GFF_TYPE, _INT, _INT, st.just("."), _STRAND, st.just("."), attrs
    )
    return st.one_of(cols.map("\t".join), cols.map("\t".join), cols.map(lambda c: "\t".join(c[:-1])), _TEXT)


GFF_LINE = st.one_of(
    _row(st.lists(GFF_ATTR, max_size=4).map(";".join)),
    st.sampled_from(["##gff-version 3", "# note", "", "##FASTA", ">chr1", "ACGT"]),
)
GTF_ATTR = st.one_of(
    st.sampled_from(
        [
            'gene_id "g1"',
            'gene_id "g2"',
            "gene_id g3",
            'transcript_id "t1"',
            'gene_name "thrL"',
            'gene_biotype "rRNA"',
            'db_xref "GO:0005524"',
            'product "x; y"',
            '"',
            "",
        ]
    ),
    _TEXT,
)
GTF_LINE = st.one_of(_row(st.lists(GTF_ATTR, max_size=4).map("; ".join)), st.sampled_from(["#!genome", ""]))

GENBANK = """LOCUS       TEST1                    120 bp    DNA     linear   BCT 01-JAN-2000
DEFINITION  test.
ACCESSION   TEST1
VERSION     TEST1.1
FEATURES             Location/Qualifiers
     source          1..120
     gene            1..60
                     /locus_tag="b0001"
                     /gene="thrL"
     CDS             join(1..30,41..60)
                     /locus_tag="b0001"
                     /EC_number="1.1.1.1"
                     /db_xref="GO:0005524"
                     /product="leader"
     gene            complement(70..110)
                     /locus_tag="b0002"
                     /pseudo
     tRNA            complement(70..110)
                     /locus_tag="b0002"
ORIGIN
        1 acgtacgtac gtacgtacgt acgtacgtac gtacgtacgt acgtacgtac gtacgtacgt
       61 acgtacgtac gtacgtacgt acgtacgtac gtacgtacgt acgtacgtac gtacgtacgt
//
""".splitlines()

GENBANK_EDIT = st.tuples(
    st.integers(0, len(GENBANK) - 1),
    st.sampled_from(["drop", "dup", "replace", "cut"]),
    st.one_of(
        _TEXT,
        st.sampled_from(
            [
                "     CDS             join(50..10,99..999)",
                "     gene            <1..>400",
                "     CDS             complement(join(1..5,9..2))",
                "     gene            order(1..3,x)",
                "                     /locus_tag=",
                "LOCUS       TEST2                    5 bp    DNA",
                "//",
                "        1 acgtnnnnxx",
            ]
        ),
    ),
)


def _genbank(edits: list[tuple[int, str, str]]) -> str:
    lines = list(GENBANK)
    for index, op, text in edits:
        index = min(index, len(lines) - 1) if lines else 0
        if not lines:
            lines = [text]
        elif op == "drop":
            del lines[index]
        elif op == "dup":
            lines.insert(index, lines[index])
        elif op == "replace":
            lines[index] = text
        else:
            lines[index] = lines[index][: len(text)]
    return "\n".join(lines) + "\n"


VCF_HEADER = [
    "##fileformat=VCFv4.2",
    '##INFO=<ID=AF,Number=A,Type=Float,Description="af">',
    '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="sig">',
    '##INFO=<ID=DB,Number=0,Type=Flag,Description="db">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="gt">',
    "##contig=<ID=MT,length=16569>",
]
VCF_COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
VCF_RECORD = st.tuples(
    st.sampled_from(["MT", "1", "chr7", ""]),
    st.one_of(st.integers(-1, 20000).map(str), st.sampled_from(["x", ""])),
    st.sampled_from([".", "rs1", "rs1;rs2", ""]),
    st.sampled_from(["A", "AC", "N", "a", "", ".", "Z"]),
    st.sampled_from(["C", "C,G", ".", "<DEL>", "*", "A[1:5[", "T,T", "A", ""]),
    st.sampled_from([".", "30", "x"]),
    st.sampled_from([".", "PASS", "q10;s50"]),
    st.sampled_from([".", "AF=0.1", "AF=0.1,0.2", "DB", "UNDEF=3", "AF=x", "CLNSIG=Pathogenic|Benign", "="]),
    st.sampled_from(["", "\tGT\t0/1", "\tGT\t1|2\t.", "\tGT", "\tGT:XX\t0/1:3"]),
).map(lambda cols: "\t".join(cols[:-1]) + cols[-1])


def _vcf(args) -> str:
    header, columns, samples, records, extra = args
    head = [line for line, keep in zip(VCF_HEADER, header, strict=False) if keep]
    if columns:
        head.append(VCF_COLUMNS + ("\tFORMAT\ts1\ts2"[: 15 if samples == 2 else 10] if samples else ""))
    return "\n".join(head + records + extra) + "\n"


_NASTY_VCF = st.tuples(
    st.lists(st.booleans(), min_size=len(VCF_HEADER), max_size=len(VCF_HEADER)),
    st.booleans(),
    st.sampled_from([0, 1, 2]),
    st.lists(VCF_RECORD, max_size=6),
    st.lists(_TEXT, max_size=1),
).map(_vcf)
_GOOD_RECORD = st.tuples(
    st.sampled_from(["MT", "1"]),
    st.integers(1, 16569).map(str),
    st.sampled_from([".", "rs1"]),
    st.sampled_from(["A", "AC", "N"]),
    st.sampled_from(["C", "C,G", ".", "<DEL>", "*", "A", "T,A"]),
    st.sampled_from([".", "30"]),
    st.sampled_from([".", "PASS"]),
    st.sampled_from([".", "AF=0.1", "DB", "CLNSIG=Pathogenic"]),
).map("\t".join)
_GOOD_VCF = st.tuples(
    st.just([True] * len(VCF_HEADER)),
    st.just(True),
    st.just(0),
    st.lists(_GOOD_RECORD, max_size=6),
    st.just([]),
).map(_vcf)
VCF_TEXT = st.one_of(_GOOD_VCF, _NASTY_VCF)

_CELL = st.one_of(
    st.sampled_from(
        ["g1", "1", "0", "train", "ACGT", "", "NA", "-1", "1.5", 'a"b', "x\ty", "99999999999999999999"]
    ),
    _TEXT,
)


def _table(columns: list[str]) -> st.SearchStrategy[bytes]:
    """The right header (or a drawn subset/permutation of it) over rows of awkward cells."""
    header = st.lists(st.sampled_from([*columns, "extra"]), max_size=len(columns) + 1).map("\t".join)
    good = st.sampled_from(["g1", "1", "0", "ACGT"])
    row = st.one_of(
        st.lists(good, min_size=len(columns), max_size=len(columns)),  # well-formed
        st.lists(st.one_of(good, good, _CELL), min_size=len(columns), max_size=len(columns)),  # odd cells
        st.lists(_CELL, max_size=len(columns) + 1),  # ragged
    )
    rows = st.lists(row.map("\t".join), max_size=5)
    return st.tuples(st.one_of(st.just("\t".join(columns)), header), rows).map(
        lambda hr: ("\n".join([hr[0], *hr[1]]) + "\n").encode()
    )


# ------------------------------------------------------------------ checks on what parses


def _fasta(path: Path):
    records = list(iter_fasta(path))
    names = [name for name, _ in records]
    assert len(names) == len(set(names)) and all(names)
    assert all(len(codes) and codes.max() <= 4 for _, codes in records)
    return records


def _genes(fmt: str | None):
    def read(path: Path):
        genes = read_genes(path, fmt)
        for gene in genes:
            assert 0 <= gene.start < gene.end and gene.strand in "+-" and gene.id
            assert all(0 <= s < e for s, e in gene.cds)
        return genes

    return read


def _variants(path: Path):
    variants, skipped = read_variants_counted(path)
    assert all(v.pos >= 0 and v.ref and v.alt for v in variants)
    assert set(skipped) == {"missing_alt", "symbolic_alt", "alt_equals_ref"}
    read_genotypes(path)
    return variants


def _table_ok(path: Path, columns: dict[str, type]):
    table = read_table(path, columns)
    for name, kind in columns.items():
        assert (table[name] != "").all() if kind is str else table[name].dtype == np.int64
    return table


READERS = {
    "fasta": (_compressed(_joined(FASTA_LINES)), _fasta, ".fa.gz"),
    "gff3": (_compressed(_lines(GFF_LINE)), _genes("gff3"), ".gff3"),
    "gtf": (_compressed(_lines(GTF_LINE)), _genes("gtf"), ".gtf"),
    "annotation (sniffed)": (_lines(st.one_of(GFF_LINE, GTF_LINE)), _genes(None), ".txt"),
    "genbank": (
        _compressed(st.lists(GENBANK_EDIT, max_size=4).map(_genbank).map(str.encode)),
        _genes("genbank"),
        ".gbff.gz",
    ),
    "vcf": (_compressed(VCF_TEXT.map(str.encode)), _variants, ".vcf.gz"),
    "gene label table": (_table([*GENE_COLUMNS, "contig"]), lambda p: _table_ok(p, GENE_COLUMNS), ".tsv"),
    "variant label table": (
        _table(list(VARIANT_COLUMNS)),
        lambda p: _table_ok(p, VARIANT_COLUMNS),
        ".tsv",
    ),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_fuzzed_input_parses_or_is_refused_in_one_line(request, tmp_path, reader):
    strategy, call, suffix = READERS[reader]
    fuzz(request, tmp_path, reader, strategy, call, suffix)
    assert TALLY[reader]["tried"] == TALLY[reader]["parsed"] + TALLY[reader]["refused"] > 0


# ------------------------------------------------------------------ config


_BASE = {"run": "x", "sources": {"genome": {"simulated": "genome"}}, "simulate": {}}
_SCHEMA_DOC = yaml.safe_load(SCHEMA.read_text())


def _schema_paths(schema: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for name, sub in schema.get("properties", {}).items():
        out.append((*prefix, name))
        out.extend(_schema_paths(sub, (*prefix, name)))
    return out


_PATHS = _schema_paths(_SCHEMA_DOC) + [("pretrain", "max_stepz"), ("gene_function", "tasks", "t1", "label")]
_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**12),
    st.floats(allow_nan=True),
    _TEXT,
    st.sampled_from(["../x", "/abs", "a b", "ec_class", "gopher://h/x"]),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(_TEXT, st.integers(0, 3), max_size=2),
)


def _set(config: dict, path: tuple, value) -> dict:
    node = config
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value
    return config


def _validate(edits) -> None:
    config = copy.deepcopy(_BASE)
    for path, value in edits:
        _set(config, path, value)
    try:
        validate(config, str(SCHEMA))
    except WorkflowError as err:
        # workflow/rules/common.smk prints `cause.absolute_path` and `cause.message` as one line.
        cause = err.__cause__ or err.__context__
        assert isinstance(cause, jsonschema.ValidationError), repr(err)
        assert "\n" not in cause.message and all(isinstance(p, str | int) for p in cause.absolute_path)
        TALLY["config (schema)"]["refused"] += 1
    else:
        TALLY["config (schema)"]["parsed"] += 1
    TALLY["config (schema)"]["tried"] += 1


def test_fuzzed_config_validates_or_names_one_key(request):
    @settings(
        max_examples=_examples(request.config),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(st.tuples(st.sampled_from(_PATHS), _VALUE), max_size=4))
    def run(edits):
        _validate(edits)

    run()
    assert TALLY["config (schema)"]["tried"] > 0


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "run: ../x\nsources: {genome: {simulated: genome}}\n",
            "genolm config error at 'run': '../x' does not match",
            id="run-escapes-results",
        ),
        pytest.param(
            "- a\n- b\n", "Config file must be given as JSON or YAML with keys at top level", id="list"
        ),
        pytest.param("\ufeffrun: [x\n", "Config file is not valid JSON or YAML", id="bom-yaml-syntax-error"),
    ],
)
def test_nasty_config_files_stop_snakemake_cleanly(tmp_path, text, expected):
    """The real `snakemake -n`: a refusal, no traceback from genolm, nothing under results/."""
    configfile = tmp_path / "c.yaml"
    configfile.write_text(text, encoding="utf-8")
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n"]
    proc = subprocess.run(
        [*cmd, "--configfile", str(configfile)], capture_output=True, text=True, timeout=120, check=False
    )
    TALLY["config (snakemake -n)"].update(tried=1, refused=int(proc.returncode != 0))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and expected in output, output
    assert "Traceback" not in output and not (tmp_path / "results").exists()


# ------------------------------------------------------------------ nasty corpus

FA = {"chr1": "ACGTNNACGT", "MT": "GATCACAGGT"}


def _fa_codes(path: Path) -> dict[str, str]:
    return {name: decode(codes) for name, codes in iter_fasta(path)}


def _counted(path: Path) -> tuple[dict, dict]:
    """Lenient read: gene id -> CDS, and the count of each tolerated cause."""
    genes, issues = read_annotation(path)
    return {g.id: g.cds for g in genes}, dict(issues.counts)


CORPUS = [
    # (file, reader, expected: dict/list on parse, or a regex the GenolmError must match)
    ("crlf_bom.fa", _fa_codes, FA),
    ("cr_only.fa", _fa_codes, r"cr_only.fa:1: lines end in CR alone"),
    ("softmask_iupac.fa", _fa_codes, {"chr1": "ACGTNNNNNNNNNNACGT"}),
    ("empty_record.fa", _fa_codes, r"empty_record.fa:1: record 'chr1' has no sequence"),
    ("duplicate_ids.fa", _fa_codes, r"duplicate_ids.fa:3: duplicate contig name 'chr1'"),
    ("gap_dash.fa", _fa_codes, r"gap_dash.fa:2: invalid sequence character '-'"),
    ("plain_named.fa.gz", _fa_codes, FA),
    ("bgzip.fa.gz", _fa_codes, FA),
    ("truncated.fa.gz", _fa_codes, r"truncated.fa.gz: gzip data is truncated or corrupt"),
    ("not_fasta.fa", _fa_codes, r"not_fasta.fa:1: not FASTA"),
    ("empty.fa", _fa_codes, r"empty.fa: empty file"),
    (
        "crlf_bom.gff3",
        lambda p: [(g.id, g.start, g.end, g.strand) for g in read_genes(p)],
        [("b1", 0, 9, "-")],
    ),
    ("latin1.gff3", read_genes, r"latin1.gff3:2: not UTF-8 text \(byte 0xe9\)"),
    ("parent_missing.gff3", lambda p: [(g.id, g.cds) for g in read_genes(p)], [("g1", ())]),
    (
        "parent_missing.gff3",
        lambda p: read_genes(p, strict=True),
        r"parent_missing.gff3:3: Parent 'nope' is not defined",
    ),
    ("regional_cut.gff3", lambda p: _counted(p), ({"g1": ()}, {"missing_parent": 2})),
    ("regional_cut.gff3", lambda p: read_genes(p, strict=True), r"regional_cut.gff3:4: Parent 't0' is not"),
    ("cyclic_parent.gff3", lambda p: _counted(p), ({}, {"cyclic_parent": 2, "parent_after_child": 1})),
    ("start_after_end.gff3", read_genes, r"start_after_end.gff3:2: expected 1 <= start <= end"),
    ("no_gene_id.gtf", lambda p: _counted(p), ({}, {"no_gene_id": 1})),
    ("no_gene_id.gtf", lambda p: read_genes(p, strict=True), r"no_gene_id.gtf:1: GTF line has no gene_id"),
    ("crlf.gtf", lambda p: [(g.id, g.cds) for g in read_genes(p)], [("g1", ((0, 6),))]),
    ("truncated.gbff", read_genes, r"truncated.gbff: malformed GenBank file"),
    ("not_annotation.txt", read_genes, r"not_annotation.txt: cannot tell the annotation format"),
    (
        "bom_crlf.vcf",
        read_variants_counted,
        r"bom_crlf.vcf: not a readable VCF/BCF file \(it starts with a UTF-8 byte-order mark",
    ),
    ("crlf.vcf", lambda p: [(v.contig, v.pos, v.alt) for v in read_variants_counted(p)[0]], [("MT", 3, "T")]),
    ("bad_pos.vcf", read_variants_counted, r"bad_pos.vcf: malformed VCF record after 0 records"),
    ("not_vcf.vcf", read_variants_counted, r"not_vcf.vcf: not a readable VCF/BCF file \(unrecognised format"),
    (
        "bad_location.gbff",
        read_genes,
        r"bad_location.gbff: record T1.1: a CDS feature has an unreadable location",
    ),
]


@pytest.mark.parametrize(
    ("name", "reader", "expected"), CORPUS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CORPUS)]
)
def test_nasty_corpus_exact_outcome(name, reader, expected):
    path = NASTY / name
    TALLY["nasty corpus"]["tried"] += 1
    if isinstance(expected, str):
        with pytest.raises(GenolmError, match=expected) as info:
            reader(path)
        assert "\n" not in str(info.value)
        TALLY["nasty corpus"]["refused"] += 1
    else:
        assert reader(path) == expected
        TALLY["nasty corpus"]["parsed"] += 1


def test_bad_input_is_one_line_in_the_users_terms_and_leaves_no_output(tmp_path):
    """Errors name the source as configured (not the run's copy), with the contig length, or 'directory'."""
    splits = tmp_path / "splits.tsv"
    splits.write_text("contig\tstart\tend\tsplit\nMT\t0\t10\ttrain\nchr1\t0\t10\ttest\n")
    out = tmp_path / "out"
    cases = [
        (
            lambda: build_variant_table(
                NASTY / "beyond_end.vcf",
                NASTY / "crlf_bom.fa",
                splits,
                out / "v.tsv",
                out / "v.json",
                sources={"variants": "ClinVar GRCh38 20240101"},
            ),
            r"^ClinVar GRCh38 20240101: MT:99999 is beyond the end of contig 'MT' \(10 bp\)",
        ),
        (
            lambda: build_gene_table(
                NASTY / "start_after_end.gff3",
                NASTY / "crlf_bom.fa",
                splits,
                out / "g.tsv",
                out / "g.json",
                label="biotype",
                sources={"annotation": "NCBI GCF_000005845.2 gff3"},
            ),
            r"^NCBI GCF_000005845.2 gff3:2: expected 1 <= start <= end",
        ),
        (
            lambda: split_genome(
                NASTY / "duplicate_ids.fa",
                out / "s.tsv",
                out / "c.tsv",
                out / "g.u8",
                window=4,
                stride=4,
                source="data/my genome.fa",
            ),
            r"^data/my genome.fa:3: duplicate contig name 'chr1'",
        ),
        (lambda: fetch(str(NASTY), out / "genome"), r"data/nasty: is a directory; expected a file"),
    ]
    for call, message in cases:
        with pytest.raises(GenolmError, match=message) as info:
            call()
        named = str(info.value)
        assert "\n" not in named and (str(NASTY / "") not in named or "is a directory" in named)
        assert not out.exists() or not any(out.iterdir())
    TALLY["nasty corpus"].update(tried=len(cases), refused=len(cases))


def test_very_long_single_line_genome(tmp_path):
    """A 10 MB sequence on one line (no wrapping) and one 10 MB header-less junk line."""
    seq = np.random.default_rng(0).integers(0, 4, 10_000_000, dtype=np.uint8)
    good = tmp_path / "one_line.fa"
    good.write_bytes(b">big\n" + np.frombuffer(b"ACGT", np.uint8)[seq].tobytes())
    bad = tmp_path / "one_line_bad.fa"
    bad.write_bytes(b">big\n" + b"A" * 9_999_999 + b"!\n")
    with _deadline(HANG_SECONDS):
        ((name, codes),) = iter_fasta(good)
        assert name == "big" and np.array_equal(codes, seq)
        with pytest.raises(GenolmError, match=r"one_line_bad.fa:2: invalid sequence character '!'"):
            list(iter_fasta(bad))
    TALLY["nasty corpus"].update(tried=2, parsed=1, refused=1)


@pytest.mark.parametrize(
    ("names", "outcome"),
    [
        pytest.param(["chrM"], {"chrM": "MT"}, id="chrM-vs-MT"),
        pytest.param(["NC_012920.1"], {"NC_012920.1": "MT"}, id="refseq-vs-MT"),
        pytest.param(
            ["chr1", "chrQ"], r"mismatch.vcf: 1 contig\(s\) not found in the reference: chrQ", id="unknown"
        ),
    ],
)
def test_contig_names_of_vcf_and_gff_against_fasta(tmp_path, names, outcome):
    """VCF/GFF contigs spelled differently from the FASTA map; truly unknown ones are refused by name."""
    fasta = tmp_path / "ref.fa"
    fasta.write_text(">1\nACGT\n>MT\nACGT\n")
    vcf = tmp_path / "mismatch.vcf"
    rows = "".join(f"{n}\t2\t.\tC\tT\t.\t.\t.\n" for n in names)
    vcf.write_text("##fileformat=VCFv4.2\n" + VCF_COLUMNS + "\n" + rows)
    contigs = [v.contig for v in read_variants_counted(vcf)[0]]
    reference = [name for name, _ in iter_fasta(fasta)]
    TALLY["nasty corpus"]["tried"] += 1
    if isinstance(outcome, str):
        with pytest.raises(GenolmError, match=outcome):
            reconcile_contigs(contigs, reference, source=str(vcf))
        TALLY["nasty corpus"]["refused"] += 1
    else:
        assert reconcile_contigs(contigs, reference, source=str(vcf)) == outcome
        TALLY["nasty corpus"]["parsed"] += 1


def test_corpus_is_small_and_hand_made():
    files = sorted(NASTY.iterdir())
    assert len(files) >= 20 and sum(f.stat().st_size for f in files) < 8192
