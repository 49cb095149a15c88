from genolm.interpret.classifier import interpret_classifier
from genolm.job import job_resources, optional_input
from genolm.logs import run_step

run_step(
    interpret_classifier,
    snakemake.log[0],
    table_tsv=snakemake.input.table,
    classifier_dir=snakemake.input.classifier,
    motif_database=optional_input(snakemake.input.database),
    attributions_tsv=snakemake.output.attributions,
    ism_tsv=snakemake.output.ism,
    seqlets_tsv=snakemake.output.seqlets,
    motifs_jaspar=snakemake.output.motifs_jaspar,
    motifs_tsv=snakemake.output.motifs_tsv,
    summary_json=snakemake.output.summary,
    # top_genes, ig_steps, ism_width, seqlet_width, seqlet_z, min_seqlets, seed: the settings by name
    **snakemake.params,
    **job_resources(snakemake),
)
