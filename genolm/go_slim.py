"""Map GO terms to a GO slim with goatools, from OBO files the user supplies (no download).

Why: thousands of specific GO terms, most held by a handful of genes, cannot be learned; a slim
(e.g. goslim_generic.obo) folds them into a few dozen broad terms. A term maps to the most specific
slim terms above it (itself included) along is_a and part_of, as GO's map2slim does: a slim term
that is an ancestor of another of the term's slim terms is left out.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable
from pathlib import Path

from goatools.obo_parser import GODag

from genolm.errors import GenolmError

#: Relations followed upward besides is_a (map2slim's default).
RELATIONS = frozenset({"part_of"})


def read_dag(path: str | Path) -> GODag:
    """An OBO ontology with its relationships; goatools' load messages go nowhere."""
    if not Path(path).is_file():
        raise GenolmError(f"{path}: GO ontology (OBO) file not found")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            dag = GODag(str(path), optional_attrs={"relationship"}, prt=None)
    except (KeyError, ValueError, UnicodeDecodeError) as err:
        raise GenolmError(f"{path}: not a readable OBO ontology ({err})") from err
    if not dag:
        raise GenolmError(f"{path}: no [Term] stanzas; expected an OBO file such as go-basic.obo")
    return dag


def slim_mapper(obo: str | Path, slim: str | Path) -> Callable[[Iterable[str]], tuple[str, ...]]:
    """A function mapping a gene's GO terms to its slim terms (sorted, unique).

    Terms unknown to `obo` (or obsolete there) map to nothing; alt_ids map like their primary term.
    """
    dag = read_dag(obo)
    slim_ids = set(read_dag(slim))
    unknown = slim_ids - set(dag)
    if unknown:
        raise GenolmError(f"{slim}: slim term(s) {', '.join(sorted(unknown)[:3])} are not in {obo}")
    upper: dict[str, frozenset[str]] = {}

    def ancestors(term_id: str) -> frozenset[str]:
        """All terms above `term_id` (is_a + RELATIONS), memoised: GO paths share most of their tops."""
        if term_id not in upper:
            term = dag[term_id]
            found: set[str] = set()
            for parent in term.get_goterms_upper_rels(RELATIONS):
                found |= {parent.item_id, *ancestors(parent.item_id)}
            upper[term_id] = frozenset(found)
        return upper[term_id]

    def direct(term_id: str) -> set[str]:
        primary = dag[term_id].item_id
        hits = ({primary} | ancestors(primary)) & slim_ids
        return {h for h in hits if not any(h in ancestors(o) for o in hits if o != h)}

    def mapper(terms: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(set().union(*(direct(t) for t in terms if t in dag))))

    return mapper
