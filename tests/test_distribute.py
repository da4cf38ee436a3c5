"""tf.distribute training on CPU: 2 logical devices in one process, and 2 worker processes on loopback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.app_server import free_port
from tests.helpers.cli import run_cli
from core.train import read_checkpoint_state, read_metrics
from core.weights import load_model

ROOT = Path(__file__).resolve().parent.parent


def train_command(data: Path, run: Path, init: Path, steps: int, *extra: str) -> list[str]:
    """The tiny model (16 px), a global batch of 8, a log line and checkpoint every step."""
    return [sys.executable, "-m", "core.train", "--data", str(data), "--out", str(run), "--steps", str(steps),
            "--batch-size", "8", "--image-size", "16", "--z-dim", "8", "--gf", "4", "--df", "4",
            "--log-every", "1", "--sample-every", "1", "--checkpoint-every", "1", "--init-from", str(init), *extra]


def run(command: list[str], env: dict | None = None) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def one_step(init: Path, out: Path, replicas: int) -> list[np.ndarray]:
    log = run([sys.executable, str(ROOT / "tests" / "helpers" / "one_step.py"), str(init), str(out),
               "--replicas", str(replicas)])
    assert f"{replicas} replica(s)" in log
    with np.load(out) as saved:
        return [saved[key] for key in saved.files]


def test_one_step_on_two_replicas_equals_one_step_on_one(tmp_path, tiny_weights):
    """Same global batch, same start, plain SGD: the weights after one step agree within float tolerance.

    Without the loss's division by the number of replicas the step would be twice as long, and
    without synchronised batch norm each replica would normalise by its own half of the batch."""
    before = load_model(tiny_weights)
    start = [np.array(w) for w in before.generator.weights + before.discriminator.weights]
    one, two = one_step(tiny_weights, tmp_path / "one.npz", 1), one_step(tiny_weights, tmp_path / "two.npz", 2)
    assert max(np.abs(a - b).max() for a, b in zip(one, start)) > 1e-3  # the step moved the weights
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_two_workers_on_loopback_train_resume_and_hand_over_to_one(tmp_path, synthetic_faces, tiny_weights):
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    run_dir = tmp_path / "run"

    def two_workers(steps: int, *extra: str) -> list[str]:
        workers = []
        for index in range(2):
            env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            workers.append(subprocess.Popen(
                train_command(synthetic_faces, run_dir, tiny_weights, steps, "--strategy", "multiworker", *extra),
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        logs = [worker.communicate(timeout=300)[0] for worker in workers]
        for worker, log in zip(workers, logs):
            assert worker.returncode == 0, log[-3000:]
        return logs

    logs = two_workers(2)
    assert all("2 replica(s)" in log for log in logs)
    assert read_checkpoint_state(run_dir)["step"] == 2
    logs = two_workers(4, "--resume")
    assert all("resumed from step 2" in log for log in logs)
    assert read_checkpoint_state(run_dir)["step"] == 4
    log = run(train_command(synthetic_faces, run_dir, tiny_weights, 5, "--resume"))  # now on one replica
    assert "resumed from step 4" in log and "1 replica(s)" in log
    assert [int(row["step"]) for row in read_metrics(run_dir)] == [1, 2, 3, 4, 5]  # the chief alone wrote them


def test_an_unknown_strategy_or_a_missing_tf_config_is_refused(tmp_path, synthetic_faces, tiny_weights, monkeypatch):
    from core.distribute import make_strategy

    with pytest.raises(ValueError, match="strategy must be one of"):
        make_strategy("ring")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    command = train_command(synthetic_faces, tmp_path / "r", tiny_weights, 1, "--strategy", "multiworker")
    done = run_cli("core.train", *command[3:])  # refused before any strategy is made: safe in the test's process
    assert done.returncode == 2 and "multiworker needs TF_CONFIG" in done.stderr
