"""One setting per torch stage decides its device: the rule's `gpu` resource reaches the code, which takes the
CUDA branch when asked. Checked on the CPU: torch is told CUDA is there, and what would move to the GPU is
stopped at the door (the model loader or `.to()`) and inspected.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import yaml

import genolm.cli
import genolm.distill
import genolm.finetune.classifier
import genolm.inference
import genolm.interpret.classifier
import genolm.interpret.variants
import genolm.job
import genolm.variants
from genolm.device import autocast_dtype
from genolm.errors import GenolmError
from genolm.inference import CUDA_BATCH_FACTOR, inference_batch_size
from genolm.names import VARIANT_ENCODER_METHODS, VARIANT_METHODS
from tests.conftest import REPO, run_snakemake

CUDA = torch.device("cuda", 0)
CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")


class Reached(Exception):
    """Raised where a stage would hand its model to the GPU: the CUDA branch was taken."""


@pytest.fixture
def cuda_visible(monkeypatch):
    """torch believes one bf16-capable GPU is visible."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)


def _stop_loading(monkeypatch, module, name: str = "load_pretrained") -> list:
    """Replace `module.name` (a model loader) by one that records its device and stops the stage."""
    seen = []

    def loader(path, device=None):
        seen.append(device)
        raise Reached

    monkeypatch.setattr(module, name, loader)
    return seen


class _FakeClassifier:
    """A loaded classifier stand-in: records where `.to()` sends it, then stops the stage."""

    def __init__(self, seen: list) -> None:
        self.seen = seen
        self.batch_size = 16

    def to(self, device):
        self.seen.append(device)
        raise Reached


def _stop_classifier(monkeypatch, module) -> list:
    seen = []
    monkeypatch.setattr(module, "load_classifier", lambda path: _FakeClassifier(seen))
    return seen


def test_cuda_gets_bf16_autocast_and_larger_inference_batches(cuda_visible):
    assert autocast_dtype(CUDA) is torch.bfloat16 and autocast_dtype(torch.device("cpu")) is None
    assert inference_batch_size(CUDA, 64) == 64 * CUDA_BATCH_FACTOR > 64
    assert inference_batch_size(torch.device("cpu"), 64) == 64  # CPU outputs keep their batches


@pytest.mark.parametrize("method", VARIANT_ENCODER_METHODS)
def test_variant_scoring_loads_the_model_on_cuda(cuda_visible, monkeypatch, tmp_path, method):
    seen = _stop_loading(monkeypatch, genolm.variants)
    table = tmp_path / "variants.tsv"
    table.write_text(
        "id\tcontig\tpos\tref\talt\tlabel\tsplit\tref_window\toffset\nv\tc\t3\tA\tC\t1\ttest\tGGAGG\t2\n"
    )
    with pytest.raises(Reached):
        genolm.variants.score_variants(
            table, method, tmp_path / "s.tsv", tmp_path / "m.json", model_dir="m", gpus=1
        )
    assert seen == [CUDA]


def test_interpret_variants_loads_the_model_on_cuda(cuda_visible, monkeypatch, tmp_path):
    seen = _stop_loading(monkeypatch, genolm.interpret.variants)
    out = [tmp_path / n for n in ("ism.tsv", "ism.npz", "attr.tsv", "summary.json")]
    with pytest.raises(Reached):
        genolm.interpret.variants.interpret_variants("t.tsv", "s.tsv", "m", *out, gpus=1)
    assert seen == [CUDA]


def test_interpret_classifier_moves_the_classifier_to_cuda(cuda_visible, monkeypatch, tmp_path):
    seen = _stop_classifier(monkeypatch, genolm.interpret.classifier)
    out = [tmp_path / n for n in ("a.tsv", "i.tsv", "s.tsv", "m.jaspar", "m.tsv", "summary.json")]
    with pytest.raises(Reached):
        genolm.interpret.classifier.interpret_classifier("t.tsv", "clf", *out, gpus=1)
    assert seen == [CUDA]


def test_distill_moves_the_teacher_to_cuda(cuda_visible, monkeypatch, tmp_path):
    seen = _stop_classifier(monkeypatch, genolm.distill)
    out = [tmp_path / n for n in ("p.tsv", "m.json", "model", "c.json", "t.json")]
    with pytest.raises(Reached):
        genolm.distill.run_distill("t.tsv", "teacher", *out, genolm.distill.DistillSettings(), gpus=1)
    assert seen == [CUDA]


def test_cli_embed_and_predict_compute_on_cuda_with_gpus_1(cuda_visible, monkeypatch, tmp_path):
    loaded = _stop_loading(monkeypatch, genolm.inference)
    with pytest.raises(Reached):
        genolm.cli.main(
            ["embed", "--model", "m", "--fasta", "x.fa", "-o", str(tmp_path / "e.npy"), "--gpus", "1"]
        )
    moved = _stop_classifier(monkeypatch, genolm.finetune.classifier)
    with pytest.raises(Reached):
        genolm.cli.main(
            ["predict", "--model", "m", "--fasta", "x.fa", "--out", str(tmp_path / "p.tsv"), "--gpus", "1"]
        )
    assert loaded == moved == [CUDA]


def test_cli_score_variants_and_score_cohort_resolve_their_own_setting(cuda_visible, monkeypatch):
    calls = []

    def resolve(gpus, key):
        calls.append((gpus, key))
        raise Reached

    monkeypatch.setattr(genolm.variants, "resolve_device", resolve)
    args = [
        "score-variants",
        "--model",
        "m",
        "--vcf",
        "v.vcf",
        "--genome",
        "g.fa",
        "-o",
        "s.tsv",
        "--gpus",
        "1",
    ]
    with pytest.raises(Reached):
        genolm.cli.main(args)
    with pytest.raises(Reached):
        genolm.variants.score_vcf("m", "v.vcf", "g.fa", "s.tsv", gpus=1)  # what the score_cohort rule calls
    assert calls == [(1, "--gpus"), (1, "disease_risk.gpus")]


@CPU_ONLY
@pytest.mark.parametrize(
    ("call", "key"),
    [
        (
            lambda p: genolm.variants.score_variants(p / "t", "zeroshot", p / "s", p / "m", gpus=1),
            "disease_risk",
        ),
        (lambda p: genolm.interpret.variants.interpret_variants(*[p] * 7, gpus=1), "interpret"),
        (lambda p: genolm.interpret.classifier.interpret_classifier(*[p] * 8, gpus=1), "interpret"),
        (
            lambda p: genolm.distill.run_distill(*[p] * 7, genolm.distill.DistillSettings(), gpus=1),
            "compress.distill",
        ),
    ],
)
def test_a_gpu_configured_but_not_visible_is_one_line_naming_the_setting(tmp_path, call, key):
    with pytest.raises(GenolmError, match=rf"^{re.escape(key)}\.gpus is 1 but no CUDA GPU"):
        call(tmp_path)
    assert list(tmp_path.iterdir()) == []  # refused before reading or writing anything


@CPU_ONLY
def test_cli_gpus_without_a_gpu_is_one_line_naming_the_option(tmp_path, capsys):
    code = genolm.cli.main(
        ["embed", "--model", "m", "--fasta", "x.fa", "-o", str(tmp_path / "e.npy"), "--gpus", "1"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == ["genolm: error: --gpus is 1 but no CUDA GPU is visible to torch"]


class _Job(SimpleNamespace):
    """A fake `snakemake` section (a Namedlist): its names from keys(), their values as attributes."""

    def keys(self):
        return vars(self).keys()


def _named(*names: str, **values) -> _Job:
    """A section naming `names` (placeholder paths) and `values`."""
    return _Job(**dict.fromkeys(names, "x"), **values)


#: Each torch script's rule entries its function needs (named as its arguments), placeholders for files.
SCRIPTS = {
    "pretrain": dict(
        input=_named("tokenizer_dir", windows=["w/train.npy"]),
        output=_named("model_dir", "log_csv", "metrics_json"),
        params=_named("checkpoint_dir", settings={"family": "bert", "nodes": 1, "seed": 1}),
    ),
    "finetune": dict(
        input=_named("table_tsv", "model_dir"),
        output=_named("predictions_tsv", "metrics_json", "classifier_dir"),
        params=_named(settings={"seed": 1}, seeds=1),
    ),
    "score_variants": dict(
        input=_named("table_tsv", model_dir=["x"]), output=_named("scores_tsv", "metrics_json")
    ),
    "score_cohort": dict(input=_named("model_dir", "vcf", "genome"), output=_named("out_tsv")),
    "interpret": dict(
        input=_named("table_tsv", "scores_tsv", "model_dir"),
        output=_named("ism_tsv", "ism_npz", "attributions_tsv", "summary_json"),
    ),
    "interpret_classifier": dict(
        input=_named("table_tsv", "classifier_dir", motif_database=[]),
        output=_named(
            "attributions_tsv", "ism_tsv", "seqlets_tsv", "motifs_jaspar", "motifs_tsv", "summary_json"
        ),
    ),
    "distill": dict(
        input=_named("table_tsv", "teacher_dir"),
        output=_named("predictions_tsv", "metrics_json", "student_dir", "comparison_json", "timing_json"),
        params=_named(settings={"seed": 1}),
    ),
}


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_torch_script_passes_the_jobs_gpu_resource_to_the_code(monkeypatch, script):
    """The job's `gpu` (the rule's resource, or a profile's set-resources) is what the code computes on."""
    calls = []
    monkeypatch.setattr(genolm.job, "run_step", lambda func, log, **kwargs: calls.append(kwargs))
    job = _Job(
        params=_Job(),
        resources=_Job(gpu=1),
        wildcards=_Job(method="zeroshot"),
        input=_Job(),
        output=_Job(),
        threads=2,
        log=["x"],
    )
    for name, value in SCRIPTS[script].items():
        setattr(job, name, value)
    runpy.run_path(str(REPO / "workflow" / "scripts" / f"{script}.py"), init_globals={"snakemake": job})
    (kwargs,) = calls
    gpus = kwargs["settings"].gpus if script == "pretrain" else kwargs["gpus"]
    assert gpus == 1


def _profile_resources(monkeypatch, profile: str = "slurm-gpu", **env: str) -> list[str]:
    """A profile's set-resources as snakemake reads them (yte)."""
    from snakemake.profiles import ProfileConfigFileParser

    for var in ("SLURM_ACCOUNT", "SLURM_PARTITION", "SLURM_GPU_MODEL", "SLURM_GPU_PARTITION"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    with (REPO / "profiles" / profile / "config.yaml").open() as stream:
        return ProfileConfigFileParser().parse(stream)["set-resources"]


@pytest.mark.parametrize("profile", ["slurm-gpu", "slurm-multinode"])
def test_gpu_profile_gives_score_variants_a_gpu_for_the_model_methods_only(monkeypatch, profile):
    """The profile's per-job expressions, evaluated as snakemake does (with the job's wildcards)."""
    items = _profile_resources(
        monkeypatch, profile, SLURM_PARTITION="cpu", SLURM_GPU_PARTITION="gpu", SLURM_GPU_MODEL="h100"
    )
    expressions = dict(
        i.removeprefix("score_variants:").split("=", 1) for i in items if i.startswith("score_variants:")
    )
    for method in VARIANT_METHODS:  # a method added to genolm.names must be added to the profile's list
        values = {k: eval(v, {"wildcards": SimpleNamespace(method=method)}) for k, v in expressions.items()}
        model = method in VARIANT_ENCODER_METHODS
        assert values == {
            "gpu": int(model),
            "gpu_model": "h100" if model else "",
            "slurm_partition": "gpu" if model else "cpu",
        }


def _dry_run_resources(stdout: str) -> dict[tuple[str, str], dict[str, str]]:
    """(rule, wildcards) -> the job's resources, from `snakemake -n` output."""
    jobs = {}
    for block in stdout.split("\nrule ")[1:]:
        rule = block.split(":", 1)[0]
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if resources:
            pairs = dict(p.split("=", 1) for p in resources[1].split(", "))
            jobs[(rule, wildcards[1] if wildcards else "")] = pairs
    return jobs


@pytest.mark.workflow
def test_dry_run_gives_each_torch_job_its_gpu_from_the_profile_and_the_config(tmp_path, monkeypatch):
    """pretrain, finetune, score_cohort from profiles/slurm-gpu; score_variants and interpret from the
    config's `disease_risk.gpus` and `interpret.gpus` through the rules' own gpu resource."""
    items = [i for i in _profile_resources(monkeypatch) if not i.startswith("score_variants:")]
    config = yaml.safe_load((REPO / ".test" / "config.yaml").read_text())
    config["disease_risk"]["gpus"] = 1
    config["interpret"]["gpus"] = 1
    (tmp_path / "config.yaml").write_text(json.dumps(config))
    proc = run_snakemake(tmp_path, "-n", "--set-resources", *items, configfiles=[tmp_path / "config.yaml"])
    jobs = _dry_run_resources(proc.stdout)
    gpu = {key: int(res.get("gpu", 0)) for key, res in jobs.items()}
    by_rule = {}
    for (rule, _), n in gpu.items():
        by_rule.setdefault(rule, set()).add(n)
    for rule in ("pretrain", "finetune", "score_cohort", "interpret", "interpret_classifier"):
        assert by_rule[rule] == {1}, (rule, by_rule)
    for method in ("zeroshot", "supervised", "supervised_random_init", "kmer_lr", "cnn"):
        (key,) = [k for k in gpu if k[0] == "score_variants" and re.search(rf"method={method}(,|$)", k[1])]
        assert gpu[key] == int(method in VARIANT_ENCODER_METHODS), key
    assert by_rule["compress"] == {0} and by_rule["gene_baseline"] == {0}


@pytest.mark.workflow
def test_multi_node_pretraining_is_one_sbatch_of_one_task_per_node(tmp_path, monkeypatch):
    """`pretrain.nodes: 2` with 4 GPUs each under profiles/slurm-multinode: the submission the SLURM
    executor plugin builds from the dry run's resources asks for 2 nodes, 2 tasks and 8 GPUs."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    items = _profile_resources(monkeypatch, "slurm-multinode")
    assert not [i for i in items if i.startswith("pretrain:gpu=")]  # the config's count stands
    config = yaml.safe_load((REPO / ".test" / "config.yaml").read_text())
    config["pretrain"] |= {"nodes": 2, "gpus": 4, "threads": 8}
    (tmp_path / "config.yaml").write_text(json.dumps(config))
    proc = run_snakemake(tmp_path, "-n", "--set-resources", *items, configfiles=[tmp_path / "config.yaml"])
    resources = _dry_run_resources(proc.stdout)[("pretrain", "")]
    assert [resources[k] for k in ("nodes", "tasks", "gpu", "mpi")] == ["2", "2", "8", "srun"]
    job = SimpleNamespace(
        resources=_Resources({k: int(v) if v.isdigit() else v for k, v in resources.items()}), threads=8
    )
    params = dict(run_uuid="u", slurm_logfile="l", comment_str="c", account="", partition="", workdir="")
    sbatch = get_submit_command(job, params).split()
    assert {"--nodes=2", "--ntasks=2", "--cpus-per-task=8", "--mem", "4000"} <= set(sbatch)
    assert not [a for a in sbatch if a.startswith("--ntasks-per-gpu")]
    assert set_gres_string(job).split() == ["--gpus=8"]


class _Resources(dict):
    __getattr__ = dict.__getitem__


@pytest.mark.workflow
def test_gpu_benchmark_smoke_mode_prints_one_json_object(tmp_path):
    """benchmarks/gpu.sh --cpu: every section runs at tiny sizes (snakemake as a dry run) and stdout is
    exactly one JSON object; without GUE data the fine-tuning figure says it used the stand-in."""
    cmd = ["bash", str(REPO / "benchmarks" / "gpu.sh"), "--cpu", "--gue", str(tmp_path / "no-gue")]
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout)  # fails on anything printed before or after the object
    assert out["mode"] == "cpu-smoke" and not [
        k for k, v in out.items() if isinstance(v, dict) and "error" in v
    ]
    assert out["pretrain"]["steps"] == 4 and out["pretrain"]["tokens_per_window"] == 32
    assert out["pretrain"]["mfu"] == pytest.approx(
        out["pretrain"]["tokens_per_s"]
        * out["pretrain"]["flops_per_token"]
        / (out["pretrain"]["peak_tflops"] * 1e12)
    )
    tune = out["finetune"]
    assert (
        tune["gue"]["stand_in"] is True and tune["gue"]["train_rows"] == 48 and tune["gue"]["length"] == 101
    )
    assert tune["sequences_per_s_ratio"] == pytest.approx(
        tune["sequences_per_s"] / tune["cpu_2_threads_sequences_per_s"]
    )
    assert out["zero_shot"]["variants"] == 24 and out["zero_shot"]["variants_per_s"] > 0
    e2e = out["end_to_end"]
    assert e2e["dry_run"] is True and e2e["returncode"] == 0 and e2e["jobs"] > 10
