"""The command-line tools: every option explains itself, and their output carries no native log lines."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.quiet import is_noise

ROOT = Path(__file__).resolve().parent.parent
TOOLS = [
    "core.align", "core.attributes", "core.complete", "core.curves", "core.directions", "core.encoder",
    "core.edit", "core.edit_report", "core.evaluate", "core.jobs", "core.project", "core.realism", "core.sitting", "core.train", "core.train_jax",
    "core.weights",
    "benchmarks.click_to_result", "benchmarks.complete_step", "benchmarks.concurrent_users", "benchmarks.distributed_step",
    "benchmarks.fill_profile",
    "benchmarks.edit_photo", "benchmarks.train_step", "scripts/readme_figures.py", "scripts/gpu_sitting.py",
]


def parser_of(tool: str, monkeypatch) -> argparse.ArgumentParser:
    """The parser a tool's main() builds (caught as it parses --help)."""
    if tool.endswith(".py"):
        spec = importlib.util.spec_from_file_location("readme_figures", ROOT / tool)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(tool)
    caught = []
    parse_known_args = argparse.ArgumentParser.parse_known_args

    def catch(self, args=None, namespace=None):
        if not self.add_help:  # a pre-parser (core.complete reads --weights first), not the one a user sees
            return parse_known_args(self, args, namespace)
        caught.append(self)
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", catch)
    monkeypatch.setattr(sys, "argv", [tool, "--help"])
    with pytest.raises(SystemExit):
        module.main()
    return caught[0]


@pytest.mark.parametrize("tool", TOOLS)
def test_every_option_has_a_help_line_with_its_default(tool, monkeypatch):
    parser = parser_of(tool, monkeypatch)
    text = parser.format_help()
    for action in parser._actions:
        assert action.help, f"{tool}: {action.dest} has no help"
        if action.option_strings and action.default not in (None, False, True, argparse.SUPPRESS):
            assert f"(default: {action.default}" in " ".join(text.split()).replace("( default", "(default"), \
                f"{tool}: {action.dest}'s help does not say its default {action.default!r}"


NATIVE_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796197823.129529    7900 port.cc:153] oneDNN custom operations are on.",
    "E0000 00:00:1796197593.287805    7451 meta_optimizer.cc:967] remapper failed: INVALID_ARGUMENT: Mutation",
    "W0000 00:00:1796197951.680709    8211 inference_feedback_manager.cc:121] Feedback manager requires a model",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]


def test_only_the_known_native_lines_are_dropped():
    assert all(is_noise(line) for line in NATIVE_LINES)
    for line in ["E0000 00:00:1796197593.287805    7451 meta_optimizer.cc:967] layout failed: OUT_OF_RANGE",
                 "F0000 00:00:1796197823.129529    7900 port.cc:153] Check failed", "Traceback (most recent call last):",
                 "error: no usable face among the inputs"]:
        assert not is_noise(line)


FILTERED = """
import os, sys
sys.argv[0] = "-m"  # as in python -m core.NAME
import core
import tensorflow
os.write(2, b"W0000 00:00:1796197951.680709    8211 inference_feedback_manager.cc:121] Feedback manager\\n")
os.write(2, b"a native line that matters\\n")
print("a Python line", file=sys.stderr)
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_a_tool_prints_no_native_start_up_lines_unless_verbose(verbose):
    env = {k: v for k, v in os.environ.items() if k != "FACEFILL_VERBOSE"}
    if verbose:
        env["FACEFILL_VERBOSE"] = "1"
    run = subprocess.run([sys.executable, "-c", FILTERED], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert "a native line that matters" in lines and "a Python line" in lines
    assert any(is_noise(line) for line in lines) == verbose, lines


def test_the_pilot_script_stops_on_a_misspelt_pilot_before_any_training(tmp_path):
    """PYTHON=echo stands in for the training: each pilot's log then holds its core.train arguments."""
    def pilots(*names: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "scripts/pilots_128.sh", "UTK", "BOTH", str(tmp_path / "runs"), "300", *names],
                              cwd=ROOT, env={**os.environ, "PYTHON": "echo"}, capture_output=True, text=True, timeout=60)

    run = pilots("batch-32", "batch-23")
    assert run.returncode != 0 and "unknown pilot: batch-23" in run.stderr
    assert not (tmp_path / "runs").exists()
    run = pilots("batch-32")
    assert run.returncode == 0, run.stderr
    assert "--data UTK --out" in (log := (tmp_path / "runs" / "batch-32.log").read_text())
    assert "--steps 600" in log and "--batch-size 32" in log  # as many faces as the others at batch 64


@pytest.mark.parametrize(("flag", "photo_detail"), [("--no-photo-detail", False), ("--no-grain", False),
                                                      ("--grain", True), ("--photo-detail", True)])
def test_the_photo_detail_option_answers_to_its_old_name_too(flag, photo_detail, monkeypatch):
    parser = parser_of("core.complete", monkeypatch)
    monkeypatch.undo()
    assert parser.parse_args(["face.png", flag]).photo_detail is photo_detail
