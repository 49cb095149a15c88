"""GFF3 genes: rows linked by ID/Parent into genes, tolerating what regional cuts and exports break.

Every convention in use links gene -> transcript -> exon/CDS through Parent (NCBI, Ensembl, FlyBase,
WormBase with its `Gene:`/`Transcript:` prefixes, TAIR10 with `protein` rows that CDS rows also name as a
Parent); prokaryote files put CDS straight under the gene. Rows whose Parent is missing, loops, or
belongs to another gene are counted in `AnnotationIssues` rather than refused, unless it is strict.
"""

from __future__ import annotations

from urllib.parse import unquote

from genolm.io.annotation_issues import AnnotationIssues
from genolm.io.fasta import open_text
from genolm.io.genes import (
    GENE_TYPE_BIOTYPES,
    GENE_TYPES,
    Feature,
    Gene,
    columns,
    ec_numbers,
    first,
    flat,
    gene_strand,
    go_terms,
    is_transcript_type,
    note_biotype,
    transcript_biotype,
)

#: Rows that describe the sequence or a gene's product rather than a gene: never an issue.
IGNORED_TYPES = frozenset(
    {"region", "chromosome", "contig", "supercontig", "scaffold", "databank_entry", "protein", "polypeptide"}
)
#: Parts of a transcript: without a Parent they belong to no gene.
PART_TYPES = frozenset(
    {
        "exon",
        "intron",
        "five_prime_UTR",
        "three_prime_UTR",
        "UTR",
        "start_codon",
        "stop_codon",
        "pseudogenic_exon",
        "noncoding_exon",
    }
)
_MAX_DEPTH = 32  # deeper Parent chains than any convention uses are treated as loops
_PENDING = object()  # being resolved: meeting it again means a loop
_LOOP = object()


def read_gff3(path: str, issues: AnnotationIssues) -> list[Gene]:
    """Genes of a GFF3 file in file order; tolerated defects are counted in `issues`."""
    features, by_id = _features(path, issues)
    if issues.strict:
        _refuse_missing_parents(features, by_id, issues)
    owners = _Owners(by_id, issues)
    members: dict[int, list[Feature]] = {}
    genes: list[Feature] = []
    for feat in features:
        gene = owners.gene_of(feat)
        if gene is None:
            continue
        if gene is feat:
            genes.append(feat)
        members.setdefault(id(gene), []).append(feat)
    return [_gene(g, members[id(g)]) for g in genes]


def _attributes(text: str) -> dict[str, list[str]]:
    attrs: dict[str, list[str]] = {}
    for item in text.strip().split(";"):
        if "=" not in item:
            continue
        key, _, value = item.strip().partition("=")
        attrs.setdefault(unquote(key), []).extend(unquote(v) for v in value.split(","))
    return attrs


def _features(path: str, issues: AnnotationIssues) -> tuple[list[Feature], dict[str, Feature]]:
    """Every row up to ##FASTA; rows sharing an ID, type and contig are one feature with several segments."""
    features: list[Feature] = []
    by_id: dict[str, Feature] = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.startswith("##FASTA"):
                break
            if not line.strip() or line.startswith("#"):
                continue
            contig, ftype, start, end, strand, attr_text = columns(issues.source, lineno, line)
            attrs = _attributes(attr_text)
            fid = attrs.get("ID", [""])[0]
            seen = by_id.get(fid) if fid else None
            if seen is not None and seen.type == ftype and seen.contig == contig:  # one feature, several rows
                seen.segments.append((start - 1, end))
                for key, values in attrs.items():
                    kept = seen.attrs.setdefault(key, [])
                    kept.extend(v for v in values if v not in kept)
                continue
            if seen is not None:
                issues.note("duplicate_id", line=lineno)
            feat = Feature(ftype, contig, start - 1, end, strand, attrs, lineno, [(start - 1, end)])
            features.append(feat)
            if fid:
                by_id.setdefault(fid, feat)
    return features, by_id


def _refuse_missing_parents(features: list[Feature], by_id: dict[str, Feature], issues) -> None:
    """Strict mode: the first row (in file order) naming an undefined Parent is an error."""
    for feat in features:
        for parent in feat.attrs.get("Parent", []):
            if parent not in by_id:
                issues.note(
                    "missing_parent",
                    line=feat.line,
                    refusal=f"Parent {parent!r} is not defined by any ID in the file",
                )


class _Owners:
    """Finds each row's gene-level ancestor once (memoised), noting every tolerated defect on the way."""

    def __init__(self, by_id: dict[str, Feature], issues: AnnotationIssues) -> None:
        self._by_id = by_id
        self._issues = issues
        self._memo: dict[int, object] = {}

    def gene_of(self, feat: Feature, depth: int = 0) -> Feature | None:
        """The gene row `feat` belongs to (itself for a gene), or None when it is left out."""
        key = id(feat)
        if key not in self._memo and depth <= _MAX_DEPTH:
            self._memo[key] = _PENDING
            self._memo[key] = self._resolve(feat, depth)
        found = self._memo.get(key, _LOOP)
        return found if isinstance(found, Feature) else None

    def _resolve(self, feat: Feature, depth: int) -> object:
        """The gene row, None (left out) or _LOOP (left out: the Parent chain loops)."""
        names = feat.attrs.get("Parent", [])
        parents = [(name, self._by_id[name]) for name in names if name in self._by_id]
        if (parents and len(parents) < len(names)) or (names and not parents and feat.type in GENE_TYPES):
            self._issues.note("missing_parent_kept", line=feat.line)
        if any(p.line > feat.line for _, p in parents):
            self._issues.note("parent_after_child", line=feat.line)
        if feat.type in GENE_TYPES and not any(p.type in GENE_TYPES for _, p in parents):
            return feat  # a gene (a FlyBase "pseudogene" row under a gene is that gene's transcript)
        if not names:
            return self._parentless(feat)
        if not parents:
            self._issues.note("missing_parent", line=feat.line)
            return None
        genes = [(name, self.gene_of(p, depth + 1)) for name, p in parents]
        found = [g for _, g in genes if g is not None]
        if not found:
            looped = any(self._memo.get(id(p), _LOOP) in (_PENDING, _LOOP) for _, p in parents)
            self._issues.note("cyclic_parent" if looped else "under_missing_parent", line=feat.line)
            return _LOOP if looped else None
        if any(g is not found[0] for g in found):
            self._issues.note("parents_in_several_genes", line=feat.line)
        feat.owner = next(name for name, g in genes if g is found[0])
        return found[0]

    def _parentless(self, feat: Feature) -> Feature | None:
        if feat.type == "CDS" or is_transcript_type(feat.type):
            self._issues.note("cds_or_rna_without_gene", line=feat.line)
            return feat
        if feat.type in PART_TYPES:
            self._issues.note("part_without_gene", line=feat.line)
        elif feat.type not in IGNORED_TYPES:
            self._issues.note("unknown_type", line=feat.line)
        return None


def _gene(gene: Feature, members: list[Feature]) -> Gene:
    """Collapse a gene and its transcripts/CDS into a Gene."""
    gene_id = (gene.attrs.get("ID") or [""])[0]
    cds_feats = [f for f in members if f.type == "CDS"]
    transcripts = [f for f in members if f is not gene and f.type not in ("CDS", "exon")]
    children = [f for f in transcripts if f.owner == gene_id]
    first_cds = cds_feats[0] if cds_feats else None
    if first_cds is None:
        cds = []
    elif first_cds is gene or (first_cds.owner == gene_id and gene.type in GENE_TYPES):
        cds = sorted(first_cds.segments)  # CDS straight under a gene (prokaryotes): each CDS ID is one
    else:
        cds = sorted(seg for f in cds_feats if f.owner == first_cds.owner for seg in f.segments)
    attr_sets = [gene.attrs] + [f.attrs for f in transcripts] + [f.attrs for f in cds_feats]
    return Gene(
        id=first([gene.attrs], "locus_tag", "gene_id", "ID") or f"{gene.contig}:{gene.start + 1}-{gene.end}",
        contig=gene.contig,
        start=min(s for s, _ in gene.segments),
        end=max(e for _, e in gene.segments),
        strand=gene_strand(gene.strand),
        biotype=_biotype(gene, children, bool(cds)),
        name=first([gene.attrs], "Name", "gene", "gene_name") or first([gene.attrs], "locus_tag", "ID"),
        product=first(
            [f.attrs for f in cds_feats] + [f.attrs for f in transcripts] + [gene.attrs], "product"
        ),
        ec_numbers=ec_numbers(attr_sets),
        go_terms=go_terms(attr_sets),
        attributes=flat(gene.attrs),
        cds=tuple(cds),
    )


def _biotype(gene: Feature, children: list[Feature], coding: bool) -> str:
    """The gene's own biotype attribute (or TAIR's Note), else what its rows imply; '' when nothing does.

    Never the bare feature type `gene`: a gene with no type information gets no biotype label.
    """
    own = first([gene.attrs], "gene_biotype", "biotype", "gene_type") or note_biotype(gene.attrs)
    if own:
        return own
    if gene.type == "pseudogene" or gene.attrs.get("pseudo") == ["true"]:
        return "pseudogene"
    if coding:
        return "protein_coding"
    for child in children:
        implied = first([child.attrs], "transcript_biotype", "biotype") or transcript_biotype(child.type)
        if implied:
            return implied
    if gene.type in GENE_TYPE_BIOTYPES:
        return GENE_TYPE_BIOTYPES[gene.type]
    return transcript_biotype(gene.type)
