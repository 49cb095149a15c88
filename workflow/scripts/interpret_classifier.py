from genolm.interpret.classifier import interpret_classifier
from genolm.logs import run_step

run_step(
    interpret_classifier,
    snakemake.log[0],
    table_tsv=snakemake.input.table,
    classifier_dir=snakemake.input.classifier,
    attributions_tsv=snakemake.output.attributions,
    ism_tsv=snakemake.output.ism,
    seqlets_tsv=snakemake.output.seqlets,
    motifs_jaspar=snakemake.output.motifs_jaspar,
    motifs_tsv=snakemake.output.motifs_tsv,
    summary_json=snakemake.output.summary,
    top_genes=snakemake.params.top_genes,
    ig_steps=snakemake.params.ig_steps,
    ism_width=snakemake.params.ism_width,
    seqlet_width=snakemake.params.seqlet_width,
    seqlet_z=snakemake.params.seqlet_z,
    min_seqlets=snakemake.params.min_seqlets,
    motif_database=snakemake.input.database[0] if snakemake.input.database else None,
    seed=snakemake.params.seed,
    threads=snakemake.threads,
    gpus=int(snakemake.resources.gpu),
)
