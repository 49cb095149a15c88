from genolm.atomic import write_json
from genolm.job import run_rule
from genolm.sources import download_source


def main(spec, local, dest, provenance, cache_dir, offline, base_urls):
    # A simulated or local source is the rule's input file; everything else is fetched by spec.
    if local:
        spec = {"path": local[0], **{k: v for k, v in spec.items() if k in ("md5", "sha256")}}
    write_json(
        provenance,
        download_source(spec, dest, cache_dir=cache_dir, offline=offline, base_urls=base_urls),
    )


run_rule(
    main,
    snakemake,
    spec=dict(snakemake.params.spec),
    local=list(snakemake.input),
    base_urls=dict(snakemake.params.base_urls),
)
