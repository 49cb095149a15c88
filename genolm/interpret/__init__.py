"""Why does a model call a variant damaging or a gene a class? In-silico mutagenesis and attributions.

- `variants`: ISM and gradient x input of the pretrained LM's zero-shot score for the top disease-risk
  variants (`interpret_variants`, the interpret rule);
- `classifier`: integrated gradients, ISM and attribution motifs of a saved gene-function classifier
  (`interpret_classifier`, the interpret_classifier rule);
- `motifs`: attribution seqlets -> motifs -> JASPAR matches (numpy, scikit-learn, Biopython; no torch);
- `common`: the base alphabet, ISM grids and TSV rows the two share.

Nothing is imported here, so `genolm.interpret.motifs` loads without torch: import from the modules.
"""
