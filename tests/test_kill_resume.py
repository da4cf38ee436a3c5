"""A training run killed with SIGKILL at random points resumes from its last whole checkpoint."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import h5py

from core.config import TrainConfig
from core.model import DCGAN
from core.train import CHECKPOINT, read_checkpoint_state, read_metrics, train

ROUNDS = int(os.environ.get("FACEFILL_KILL_ROUNDS", "3"))  # e.g. 30 for a tally
STEPS = 400 * max(1, ROUNDS // 3)  # room for every round, then 5 more steps


def start(data, run, resume: bool) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "core.train", "--data", str(data), "--out", str(run), "--steps", str(STEPS),
        "--batch-size", "4", "--image-size", "16", "--gf", "4", "--df", "4", "--z-dim", "8",
        "--log-every", "1", "--sample-every", "5", "--checkpoint-every", "1",
    ]
    return subprocess.Popen(command + ["--resume"] * resume, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def checkpoint_step(run) -> int:
    return read_checkpoint_state(run)["step"]


def assert_run_is_whole(run, tiny_config) -> int:
    """The checkpoint loads, its optimiser step matches its recorded step, no file is half-written."""
    step = checkpoint_step(run)
    assert h5py.is_hdf5(run / CHECKPOINT)
    gan = DCGAN(tiny_config, TrainConfig(batch_size=4))
    gan.compile()
    gan.build_optimizers()
    gan.load_weights(run / CHECKPOINT)
    assert int(gan.d_optimizer.iterations.numpy()) == step
    assert (run / "model" / "model.json").is_file() or (run / ".model.old" / "model.json").is_file()
    for path in (run / "samples").glob("*.png"):
        assert path.stat().st_size > 0
    return step


def test_sigkill_at_random_points_then_resume(synthetic_faces, tmp_path, tiny_config):
    run = tmp_path / "run"
    rng = random.Random(7)
    steps_at_kill = []
    for round_ in range(ROUNDS):
        process = start(synthetic_faces, run, resume=round_ > 0)
        before = checkpoint_step(run)
        deadline = time.time() + 120
        while checkpoint_step(run) < before + 3 and time.time() < deadline and process.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))  # land anywhere: mid-step, mid-checkpoint, mid-metrics row
        process.send_signal(signal.SIGKILL)
        process.wait()
        steps_at_kill.append(assert_run_is_whole(run, tiny_config))
        assert steps_at_kill[-1] > before

    # The last resume has no kill to come, so it runs in the test's own process: five steps past the last kill.
    train(synthetic_faces, run, tiny_config, TrainConfig(batch_size=4, steps=steps_at_kill[-1] + 5), resume=True,
          verbose=0)
    step = assert_run_is_whole(run, tiny_config)
    assert step == steps_at_kill[-1] + 5

    logged = [int(row["step"]) for row in read_metrics(run)]
    # Rows past the checkpoint may exist (killed after the row, before the checkpoint); none is missing or repeated.
    assert logged[: step] == list(range(1, step + 1))
    assert len(logged) == len(set(logged))
    print(f"killed at steps {steps_at_kill}, then resumed to {step}")
