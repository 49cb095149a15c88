"""What one pretraining run is: its hyperparameters, its files, and the checks on both.

Both are frozen dataclasses made of JSON types (paths as strings), so they cross the torchrun process
boundary as `asdict` JSON and come back typed (see `genolm.pretrain.ddp`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from genolm.errors import GenolmError
from genolm.models import check_pair_family

#: Sentence-pair tasks (see `genolm.pretrain.batches`); "none" trains the plain LM objective.
PAIR_OBJECTIVES = ("none", "adjacent", "strand")


@dataclass(frozen=True)
class PretrainSettings:
    """Hyperparameters of one pretraining run (all from config, with the schema's defaults).

    `threads` and `gpus` are the job's own (the rule's `threads` and `gpu` resource), not the config's;
    both are per node. `nodes` > 1 runs one torchrun agent per SLURM task (`genolm.pretrain.ddp`).
    """

    # The model (`model.*`): a preset, optionally resized, or a local model to continue from.
    family: str = "bert"  # a genolm.models.presets family (masked: bert, convnet, ...; causal: gpt2, llama)
    preset: str = "tiny"  # tiny, small or base
    hidden_size: int | None = None  # None: the preset's
    num_layers: int | None = None
    num_heads: int | None = None  # attention families only
    intermediate_size: int | None = None
    dropout: float | None = None
    init_from: str | None = None  # a local Hugging Face model folder
    # The optimisation (`pretrain.*`).
    max_steps: int = 1000  # optimizer steps; the length of the cosine schedule
    batch_size: int = 32  # windows per optimizer step over all processes
    micro_batch_size: int | None = None  # windows per forward pass in each process (None: its whole share)
    lr: float = 1e-3  # AdamW peak learning rate
    warmup_steps: int = 100  # linear warm-up before the cosine decay
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0  # gradient clipping
    mask_prob: float = 0.15  # share of tokens masked (masked LMs)
    eval_every: int = 200  # steps between validations
    eval_batches: int = 20  # batches per validation
    checkpoint_every: int = 200  # steps between resumable checkpoints
    patience: int | None = None  # validations without a lower loss before stopping (None: never)
    max_minutes: float | None = None  # wall-clock cap of this attempt
    compile: bool = False  # torch.compile the loss module
    # Where it runs: the job's own resources.
    processes: int = 1  # CPU processes per node (gpus > 0: one per GPU)
    gpus: int = 0  # GPUs per node
    nodes: int = 1  # SLURM nodes, one torchrun agent each
    seed: int = 42
    threads: int = 2  # CPU threads per node, shared by its processes
    # The optional sentence-pair task (genolm.pretrain.batches).
    pair_objective: str = "none"
    pair_weight: float = 1.0  # weight of the pair loss beside the LM loss


@dataclass(frozen=True)
class RunPaths:
    """The files of one run: what it reads (windows, tokenizer) and writes (model, logs, checkpoints)."""

    windows_dir: str
    tokenizer_dir: str
    model_dir: str
    log_csv: str
    metrics_json: str
    checkpoint_dir: str


def check_pair(settings: PretrainSettings) -> bool:
    """Whether a pair objective is on.

    Raises:
        GenolmError: an unknown pair objective, or a model family without a pair head.
    """
    if settings.pair_objective not in PAIR_OBJECTIVES:
        raise GenolmError(
            f"pretrain.pair_objective: got {settings.pair_objective!r}, expected one of "
            f"{', '.join(PAIR_OBJECTIVES)}"
        )
    check_pair_family(settings.family, settings.pair_objective)
    return settings.pair_objective != "none"


def processes_per_node(settings: PretrainSettings) -> int:
    """Training processes on each node: one per GPU when `gpus` > 0, else `processes` CPU processes.

    Raises:
        GenolmError: `processes` disagrees with `gpus`.
    """
    if settings.gpus > 0 and settings.processes not in (1, settings.gpus):
        raise GenolmError(
            f"pretrain.processes is {settings.processes} with pretrain.gpus {settings.gpus}; "
            "expected 1 or the number of GPUs (one process per GPU)"
        )
    return settings.gpus if settings.gpus > 0 else settings.processes


def gpus_per_node(job_gpus: int, nodes: int) -> int:
    """GPUs of each node, from the job's `gpu` resource (all nodes together, as `sbatch --gpus` counts).

    Raises:
        GenolmError: the job's GPUs do not split evenly over the nodes.
    """
    if job_gpus % nodes:
        raise GenolmError(
            f"pretrain: the job holds {job_gpus} GPU(s), "
            f"which do not split evenly over pretrain.nodes {nodes}"
        )
    return job_gpus // nodes


def world_size(settings: PretrainSettings) -> int:
    """Number of training processes over all nodes.

    Raises:
        GenolmError: `processes` disagrees with `gpus`, or the batch does not split evenly over processes.
    """
    world = settings.nodes * processes_per_node(settings)
    if settings.batch_size % world:
        raise GenolmError(
            f"pretrain.batch_size {settings.batch_size} is not divisible by the {world} training processes"
        )
    return world


def recorded_settings(settings: PretrainSettings) -> dict:
    """The settings as recorded in metrics.json and the run fingerprint.

    The pair keys are left out while the pair objective is off, and `nodes` on one node, so such runs
    record exactly what they did before those settings existed (same metrics.json bytes, and their
    checkpoints still resume).
    """
    out = asdict(settings)
    if settings.pair_objective == "none":
        del out["pair_objective"], out["pair_weight"]
    if settings.nodes == 1:
        del out["nodes"]
    return out
