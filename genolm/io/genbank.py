"""GenBank / RefSeq GBFF genes: each `gene` feature joined with its CDS/RNA features."""

from __future__ import annotations

from Bio import SeqIO

from genolm.errors import GenolmError
from genolm.io.annotation_issues import AnnotationIssues
from genolm.io.fasta import open_text
from genolm.io.genes import RNA_TYPES, Gene, ec_numbers, first, flat, go_terms


def read_genbank(path: str, issues: AnnotationIssues) -> list[Gene]:
    """Genes of every record; CDS/RNA features without a gene are read as genes and counted in `issues`."""
    genes: list[Gene] = []
    records = 0
    try:
        with open_text(path) as fh:
            for record in SeqIO.parse(fh, "genbank"):
                records += 1
                unreadable = next((f for f in record.features if f.location is None), None)
                if unreadable is not None:  # Biopython warns and leaves None for a location it cannot parse
                    raise GenolmError(
                        f"{issues.source}: record {record.id}: a {unreadable.type} feature has an "
                        "unreadable location"
                    )
                genes.extend(_record_genes(record, issues))
    except ValueError as exc:
        raise GenolmError(f"{issues.source}: malformed GenBank file ({str(exc).splitlines()[0]})") from exc
    if not records:
        raise GenolmError(f"{issues.source}: no GenBank records found; expected a file starting with 'LOCUS'")
    return genes


def _record_genes(record, issues: AnnotationIssues) -> list[Gene]:
    """Join each `gene` feature with its CDS/RNA features (by locus_tag, then /gene, then containment)."""
    gene_feats = [f for f in record.features if f.type == "gene"]
    children = [f for f in record.features if f.type == "CDS" or f.type in RNA_TYPES]
    by_key: dict[tuple[str, str], int] = {}
    for i, g in enumerate(gene_feats):
        for key in ("locus_tag", "gene"):
            if key in g.qualifiers:
                by_key.setdefault((key, g.qualifiers[key][0]), i)
    owned: dict[int, list] = {i: [] for i in range(len(gene_feats))}
    orphans = []
    for child in children:
        owner = _owner(child, by_key, gene_feats)
        if owner is None:
            orphans.append(child)
            label = first([child.qualifiers], "locus_tag", "gene", "product")
            issues.note(
                "cds_or_rna_without_gene", text=f"record {record.id}: {child.type} {child.location} {label}"
            )
        else:
            owned[owner].append(child)
    groups = [(g, owned[i]) for i, g in enumerate(gene_feats)] + [(c, [c]) for c in orphans]
    groups.sort(key=lambda pair: int(pair[0].location.start))
    return [_gene(record.id, gene, kids) for gene, kids in groups]


def _owner(child, by_key: dict[tuple[str, str], int], gene_feats: list) -> int | None:
    """Index of the gene feature a CDS/RNA belongs to: same locus_tag, same /gene, else containment."""
    for key in ("locus_tag", "gene"):
        if (key, child.qualifiers.get(key, [""])[0]) in by_key:
            return by_key[(key, child.qualifiers[key][0])]
    c = child.location
    for i, gene in enumerate(gene_feats):
        g = gene.location
        if g.strand == c.strand and int(g.start) <= int(c.start) and int(c.end) <= int(g.end):
            return i
    return None


def _gene(contig: str, gene, kids: list) -> Gene:
    quals = [gene.qualifiers] + [k.qualifiers for k in kids]
    cds_feats = [k for k in kids if k.type == "CDS"]
    cds: list[tuple[int, int]] = []
    if cds_feats:
        parts = [(int(p.start), int(p.end)) for p in cds_feats[0].location.parts]
        cds = parts[::-1] if cds_feats[0].location.strand == -1 else parts  # biological -> genome order
    if any("pseudo" in q or "pseudogene" in q for q in quals):
        biotype = "pseudogene"
    elif cds_feats:
        biotype = "protein_coding"
    else:
        rnas = [k.type for k in kids if k.type in RNA_TYPES]
        biotype = rnas[0] if rnas else ""  # no type information: no biotype label
    start, end = int(gene.location.start), int(gene.location.end)
    locus = first([gene.qualifiers], "locus_tag")
    return Gene(
        id=locus or first([gene.qualifiers], "gene") or f"{contig}:{start + 1}-{end}",
        contig=contig,
        start=start,
        end=end,
        strand="-" if gene.location.strand == -1 else "+",
        biotype=biotype,
        name=first([gene.qualifiers], "gene") or locus,
        product=first([k.qualifiers for k in kids] + [gene.qualifiers], "product"),
        ec_numbers=ec_numbers(quals),
        go_terms=go_terms(quals),
        attributes=flat(gene.qualifiers),
        cds=tuple(cds),
    )
