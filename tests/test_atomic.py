"""Atomic outputs: a failed write leaves nothing; a replaced directory is never lost."""

from __future__ import annotations

import os

import pytest

from genolm.atomic import atomic_path, previous_path, write_json


def test_failed_write_leaves_no_file_and_no_temporary(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk on fire")
    assert os.listdir(tmp_path) == []


def test_json_is_sorted_and_complete(tmp_path):
    write_json(tmp_path / "m.json", {"b": 1, "a": [1.5]})
    assert (tmp_path / "m.json").read_text() == '{\n  "a": [\n    1.5\n  ],\n  "b": 1\n}\n'


def test_directory_is_replaced_whole(tmp_path):
    target = tmp_path / "latest"
    for version in ("1", "2"):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "step").write_text(version)
    assert (target / "step").read_text() == "2"
    assert sorted(os.listdir(tmp_path)) == ["latest"]


def test_kill_between_renames_keeps_the_previous_directory(tmp_path, monkeypatch):
    target = tmp_path / "latest"
    target.mkdir()
    (target / "step").write_text("1")
    real_replace = os.replace
    calls = []

    def killed_on_second_rename(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands in for SIGKILL between the two renames
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_on_second_rename)
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "step").write_text("2")
    assert not target.exists()
    assert (previous_path(target) / "step").read_text() == "1"
