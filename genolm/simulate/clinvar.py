"""ClinVar-style variants of the synthetic genome: labels that follow from what each variant does.

"Pathogenic" variants really break something (start loss, stop gain, frameshift, promoter box) and
"benign" ones do not (synonymous, intergenic, a few missense), so a model can learn the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genolm.errors import GenolmError
from genolm.simulate.genome import AA_OF, BOX_OFFSETS, COMP, STOPS, Gene

_INTERGENIC_MIN_DISTANCE = 100  # "far from genes" for benign intergenic variants
_REVSTATS = (
    "criteria_provided,_single_submitter",
    "criteria_provided,_multiple_submitters,_no_conflicts",
    "reviewed_by_expert_panel",
    "no_assertion_criteria_provided",
)
_REVSTAT_WEIGHTS = (0.55, 0.2, 0.1, 0.15)
_MC = {
    "stop_gained": "SO:0001587|stop_gained",
    "start_lost": "SO:0002012|start_lost",
    "upstream_gene_variant": "SO:0001631|upstream_gene_variant",
    "frameshift_variant": "SO:0001589|frameshift_variant",
    "synonymous_variant": "SO:0001819|synonymous_variant",
    "missense_variant": "SO:0001583|missense_variant",
    "intergenic_variant": "SO:0001628|intergenic_variant",
}
_PATHOGENIC_MIX = {
    "stop_gained": 0.4,
    "start_lost": 0.2,
    "upstream_gene_variant": 0.25,
    "frameshift_variant": 0.15,
}
_BENIGN_MIX = {"synonymous_variant": 0.55, "intergenic_variant": 0.35, "missense_variant": 0.1}


@dataclass(frozen=True)
class _Variant:
    contig: str
    pos: int
    ref: str
    alt: str
    consequence: str
    gene: Gene | None


def simulate_variants(
    rng: np.random.Generator,
    contigs: dict[str, bytearray],
    genes: list[Gene],
    spacers: dict[str, list[tuple[int, int]]],
    n_variants: int,
) -> tuple[list[_Variant], list[tuple[str, str]]]:
    """Draw variants whose ClinVar label matches their effect; return them sorted, with (CLNSIG, REVSTAT)."""
    coding = [g for g in genes if g.function_class]
    if not coding and n_variants:
        raise GenolmError("simulate: no protein-coding gene fits; raise contig_length or gene_density")
    n_path = round(0.35 * n_variants)
    n_vus = round(0.05 * n_variants)
    n_conf = min(n_variants - n_path - n_vus, max(1, round(0.015 * n_variants))) if n_variants else 0
    plan: list[tuple[str, str]] = []  # (label group, consequence)
    plan += [("pathogenic", str(k)) for k in _draw(rng, _PATHOGENIC_MIX, n_path)]
    plan += [("uncertain", "missense_variant")] * n_vus
    plan += [("conflicting", "missense_variant")] * n_conf
    plan += [("benign", str(k)) for k in _draw(rng, _BENIGN_MIX, n_variants - len(plan))]
    far = _far_intergenic(contigs, spacers)
    taken: set[tuple[str, int]] = set()
    drawn: list[tuple[_Variant, tuple[str, str]]] = []
    for group, consequence in plan:
        for _ in range(200):
            variant = _draw_site(rng, consequence, contigs, coding, far)
            if variant is not None and not taken & _footprint(variant):
                break
        else:
            raise GenolmError(f"simulate: could not place {n_variants} distinct variants; lower n_variants")
        taken |= _footprint(variant)
        drawn.append((variant, _label(rng, group)))
    drawn.sort(key=lambda d: (int(d[0].contig.removeprefix("chrSim")), d[0].pos))
    return [d[0] for d in drawn], [d[1] for d in drawn]


def _draw(rng: np.random.Generator, mix: dict[str, float], n: int) -> list[str]:
    return rng.choice(list(mix), size=n, p=list(mix.values())).tolist()


def _footprint(v: _Variant) -> set[tuple[str, int]]:
    return {(v.contig, v.pos + i) for i in range(len(v.ref))}


def _label(rng: np.random.Generator, group: str) -> tuple[str, str]:
    revstat = str(rng.choice(_REVSTATS, p=_REVSTAT_WEIGHTS))
    if group == "pathogenic":
        return ("Pathogenic" if rng.random() < 0.7 else "Likely_pathogenic"), revstat
    if group == "benign":
        return ("Benign" if rng.random() < 0.6 else "Likely_benign"), revstat
    if group == "uncertain":
        return "Uncertain_significance", revstat
    return "Conflicting_interpretations_of_pathogenicity", "criteria_provided,_conflicting_interpretations"


def _far_intergenic(
    contigs: dict[str, bytearray], spacers: dict[str, list[tuple[int, int]]]
) -> list[tuple[str, int]]:
    """(contig, 0-based start) of spacer stretches at least _INTERGENIC_MIN_DISTANCE from any gene."""
    d = _INTERGENIC_MIN_DISTANCE
    return [
        (name, i)
        for name, intervals in spacers.items()
        for a, b in intervals
        for i in range(a + d, b - d)
        if contigs[name][i] not in b"Nn"
    ]


def _draw_site(
    rng: np.random.Generator,
    consequence: str,
    contigs: dict[str, bytearray],
    coding: list[Gene],
    far: list[tuple[str, int]],
) -> _Variant | None:
    """One candidate variant with the given consequence, or None if the random pick cannot have it."""
    if consequence == "intergenic_variant":
        if not far:
            return None
        name, i = far[int(rng.integers(len(far)))]
        ref = chr(contigs[name][i]).upper()
        alt = str(rng.choice([b for b in "ACGT" if b != ref]))
        return _Variant(name, i + 1, ref, alt, consequence, None)
    gene = coding[int(rng.integers(len(coding)))]
    genome = contigs[gene.contig]
    if consequence == "upstream_gene_variant":
        k = int(rng.choice(BOX_OFFSETS))
        ref = chr(genome[gene.pos(k) - 1])
        alt = str(rng.choice([b for b in "ACGT" if b != ref]))
        return _Variant(gene.contig, gene.pos(k), ref, alt, consequence, gene)
    if consequence == "frameshift_variant":
        deleted = gene.pos(int(rng.integers(3, len(gene.cds) - 3)))
        ref = bytes(genome[deleted - 2 : deleted]).decode()  # anchor base + deleted base
        return (
            None if ref[0] == ref[1] else _Variant(gene.contig, deleted - 1, ref, ref[0], consequence, gene)
        )
    codon_index = 0 if consequence == "start_lost" else int(rng.integers(1, len(gene.cds) // 3 - 1))
    codon = gene.cds[3 * codon_index : 3 * codon_index + 3]
    options = [
        (offset, base)
        for offset in range(3)
        for base in "ACGT"
        if base != codon[offset]
        and _is(consequence, codon, codon[:offset] + base + codon[offset + 1 :], offset)
    ]
    if not options:
        return None
    offset, base = options[int(rng.integers(len(options)))]
    pos = gene.pos(3 * codon_index + offset)
    alt = base if gene.strand == "+" else base.translate(COMP)
    return _Variant(gene.contig, pos, chr(genome[pos - 1]), alt, consequence, gene)


def _is(consequence: str, old: str, new: str, offset: int) -> bool:
    """Whether changing codon `old` to `new` (at codon position `offset`) has this consequence."""
    if consequence == "stop_gained":
        return new in STOPS
    if consequence == "start_lost":
        return new in ("AAG", "AGG", "ATC")  # not an alternative start codon (GTG, TTG, CTG, ATT, ATA)
    if consequence == "synonymous_variant":
        return offset == 2 and new not in STOPS and AA_OF[new] == AA_OF[old]
    return new not in STOPS and AA_OF[new] != AA_OF[old]  # missense


def vcf_text(
    rng: np.random.Generator,
    contigs: dict[str, bytearray],
    variants: list[_Variant],
    labels: list[tuple[str, str]],
    seed: int,
) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        f"##source=genolm.simulate synthetic demo data seed={seed}",
        *(f"##contig=<ID={name},length={len(seq)}>" for name, seq in contigs.items()),
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Aggregate germline classification for this '
        'single variant">',
        '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="ClinVar review status of germline '
        'classification for the Variation ID">',
        '##INFO=<ID=GENEINFO,Number=1,Type=String,Description="Gene(s) for the variant reported as gene '
        'symbol:gene id">',
        '##INFO=<ID=MC,Number=.,Type=String,Description="comma separated list of molecular consequence in '
        'the form of Sequence Ontology ID|molecular_consequence">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    ids = (rng.choice(900_000, size=len(variants), replace=False) + 100_000).tolist()
    for vid, v, (clnsig, revstat) in zip(ids, variants, labels, strict=True):
        info = f"CLNSIG={clnsig};CLNREVSTAT={revstat}"
        if v.gene is not None:
            info += f";GENEINFO={v.gene.name}:{v.gene.gid}"
        info += f";MC={_MC[v.consequence]}"
        lines.append(f"{v.contig}\t{v.pos}\t{vid}\t{v.ref.upper()}\t{v.alt}\t.\t.\t{info}")
    return "\n".join(lines) + "\n"
