"""Planted code in model/checkpoint files, remote code, URL schemes, path escapes, shells and archives.

Every payload would create a marker file if it ran; each test asserts the marker is absent.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from tiny_models import tiny_model_dir

from genolm.download import fetch
from genolm.errors import GenolmError
from genolm.models import load_model
from genolm.pretrain.checkpoint import load_checkpoint, save_checkpoint

SOURCES = [p for p in (REPO / "genolm").rglob("*.py")] + sorted((REPO / "workflow" / "scripts").glob("*.py"))


class _Payload:
    """Unpickling this runs `touch <marker>` through os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _plant(path: Path, marker: Path) -> None:
    with open(path, "wb") as fh:
        pickle.dump(_Payload(marker), fh)


@pytest.fixture
def model_dir(tmp_path) -> Path:
    return tiny_model_dir(tmp_path / "model")


def test_the_payload_really_fires_when_unpickled(tmp_path):
    """The control: without the guards below the marker would exist."""
    marker = tmp_path / "control"
    _plant(tmp_path / "x.bin", marker)
    with open(tmp_path / "x.bin", "rb") as fh:
        pickle.load(fh)  # noqa: S301 - deliberately unsafe, to prove the payload works
    assert marker.exists()


def test_pickled_weights_alone_are_refused(model_dir, tmp_path):
    marker = tmp_path / "PWNED"
    for weights in model_dir.glob("*.safetensors"):
        weights.unlink()
    _plant(model_dir / "pytorch_model.bin", marker)
    with pytest.raises(
        GenolmError, match=r"no \.safetensors weights \(pickled checkpoints are refused\)"
    ) as info:
        load_model(model_dir)
    assert "\n" not in str(info.value) and not marker.exists()


def test_pickle_beside_safetensors_is_never_opened(model_dir, tmp_path):
    marker = tmp_path / "PWNED"
    _plant(model_dir / "pytorch_model.bin", marker)
    reference = load_model(tiny_model_dir(tmp_path / "clean"))
    model = load_model(model_dir)
    assert not marker.exists()
    for (name, got), (_, want) in zip(
        model.state_dict().items(), reference.state_dict().items(), strict=True
    ):
        assert torch.equal(got, want), name


@pytest.mark.parametrize("model_type", ["bert", "evil"])
def test_auto_map_remote_code_is_refused_by_default(model_dir, tmp_path, model_type):
    """A config.json that asks for its own code: refused in one line, the code never imported."""
    marker = tmp_path / "PWNED"
    (model_dir / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    config = json.loads((model_dir / "config.json").read_text())
    config |= {
        "model_type": model_type,
        "auto_map": {"AutoConfig": "evil.C", "AutoModelForMaskedLM": "evil.M"},
    }
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        GenolmError, match=r"config.json: auto_map asks to run .* trust_remote_code is off"
    ) as info:
        load_model(model_dir)
    assert "\n" not in str(info.value) and not marker.exists()


def test_malformed_model_config_is_one_line(model_dir):
    (model_dir / "config.json").write_text("{not json")
    with pytest.raises(GenolmError, match=r"config.json: not a loadable model config") as info:
        load_model(model_dir)
    assert "\n" not in str(info.value)


@pytest.fixture
def checkpoint(model_dir, tmp_path):
    model = load_model(model_dir)
    optimizer = torch.optim.AdamW(model.parameters())
    path = tmp_path / "checkpoints" / "latest"
    save_checkpoint(path, model, optimizer, 3, [{"step": 3, "phase": "train", "loss": 1.0}], "fp")
    return path, model, optimizer


def test_planted_pickle_optimizer_state_never_runs(checkpoint, tmp_path):
    path, model, optimizer = checkpoint
    marker = tmp_path / "PWNED"
    _plant(path / "optimizer.pt", marker)
    with pytest.raises(Exception, match="Weights only load failed|not allowed|Unsupported"):
        load_checkpoint(path, model, optimizer)
    assert not marker.exists()


def test_planted_pickle_optimizer_state_is_a_one_line_error(checkpoint, tmp_path):
    path, model, optimizer = checkpoint
    _plant(path / "optimizer.pt", tmp_path / "PWNED")
    with pytest.raises(GenolmError, match=r"checkpoint") as info:
        load_checkpoint(path, model, optimizer)
    assert "\n" not in str(info.value) and not (tmp_path / "PWNED").exists()


def test_planted_pickle_as_checkpoint_weights_is_refused(checkpoint, tmp_path):
    path, model, optimizer = checkpoint
    marker = tmp_path / "PWNED"
    _plant(path / "model.safetensors", marker)
    with pytest.raises(GenolmError, match=r"checkpoint does not fit the configured model") as info:
        load_checkpoint(path, model, optimizer)
    assert "\n" not in str(info.value) and not marker.exists()


@pytest.mark.parametrize(
    "url",
    ["gopher://127.0.0.1/x", "data:text/plain,ACGT", "javascript:alert(1)", "ssh://h/x", "jar:file:/x!/y"],
)
def test_download_schemes_are_limited(tmp_path, url):
    dest = tmp_path / "out.fa"
    with pytest.raises(
        GenolmError, match=r"unsupported URL scheme .* expected one of http, https, ftp, file"
    ):
        fetch(url, dest)
    assert list(tmp_path.iterdir()) == []


# The schema the workflow validates with (snakemake.utils.validate uses the same Draft 2020-12 validator).
VALIDATOR = Draft202012Validator(
    yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
)
BASE = {"sources": {"genome": {"simulated": "genome"}}}


def _run_name_accepted(name: str) -> bool:
    return VALIDATOR.is_valid({**BASE, "run": name})


def test_a_plain_run_name_is_accepted():
    assert _run_name_accepted("mini") and _run_name_accepted("E.coli_k12-v2")


@pytest.mark.parametrize("name", ["../x", "..", ".", "/abs", "a/../../b", "x/..", "~root", "", "a\nb", "a b"])
def test_run_names_that_could_escape_results_are_refused(name):
    assert not _run_name_accepted(name)


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.text(alphabet="aZ09_.-/\\~ \n", max_size=8))
def test_every_accepted_run_name_stays_inside_results(name):
    if _run_name_accepted(name):
        results = Path("/w/results")
        assert (results / name).resolve().parent == results, name


def test_no_shell_with_user_strings_anywhere():
    """No shell=True, os.system or os.popen in the package or the rule scripts."""
    assert len(SOURCES) > 20
    pattern = re.compile(r"shell\s*=\s*True|os\.system\s*\(|os\.popen\s*\(|commands\.getoutput")
    hits = [
        f"{p.relative_to(REPO)}:{n}"
        for p in SOURCES
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


def test_no_archive_extraction_in_the_project():
    """Nothing unpacks tar/zip archives (so no path-traversal surface); a new one needs its own tests."""
    pattern = re.compile(r"\b(tarfile|zipfile|extractall|unpack_archive)\b")
    hits = [str(p.relative_to(REPO)) for p in SOURCES if pattern.search(p.read_text())]
    assert hits == []


def test_torch_load_is_always_weights_only():
    calls = [(p, line) for p in SOURCES for line in p.read_text().splitlines() if "torch.load(" in line]
    assert calls, "expected the checkpoint loader's torch.load"
    assert all("weights_only=True" in line for _, line in calls), calls
