from genolm.atomic import write_json
from genolm.logs import run_step
from genolm.sources import download_source


def main(spec, local, dest, provenance, **kwargs):
    # A simulated or local source is the rule's input file; everything else is fetched by spec.
    if local:
        spec = {"path": local[0], **{k: v for k, v in spec.items() if k in ("md5", "sha256")}}
    write_json(provenance, download_source(spec, dest, **kwargs))


run_step(
    main,
    snakemake.log[0],
    spec=dict(snakemake.params.spec),
    local=list(snakemake.input),
    dest=snakemake.output.data,
    provenance=snakemake.output.provenance,
    cache_dir=snakemake.params.cache_dir,
    offline=snakemake.params.offline,
    base_urls=dict(snakemake.params.base_urls),
)
