"""The JAX training step (core.train_jax) against TensorFlow's (core.model.DCGAN), from the same weights on the same
batches; and a JAX run's weights loaded by the app's TensorFlow model. Keras on JAX runs in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

pytest.importorskip("jax")  # a development dependency (requirements-dev.txt); the app does not need it

from core.config import TrainConfig  # noqa: E402
from core.model import DCGAN  # noqa: E402
from core.weights import load_model  # noqa: E402

HELPER = Path(__file__).parent / "helpers" / "jax_steps.py"
STEPS, BATCH = 3, 4
R1_GAMMAS = (0.0, 0.5)


def on_jax(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, env=env,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def tensorflow_steps(weights: Path, batches: dict, r1_gamma: float) -> tuple[np.ndarray, DCGAN]:
    """The same steps with the app's DCGAN: per-step losses and the model after them."""
    model = load_model(weights)
    gan = DCGAN(model.config, TrainConfig(batch_size=BATCH, r1_gamma=r1_gamma))
    gan.compile()
    gan.build_optimizers()
    gan.generator.set_weights(model.generator.get_weights())
    gan.discriminator.set_weights(model.discriminator.get_weights())
    gan.reset_ema()
    losses = []
    for step, (real, z) in enumerate(zip(batches["real"], batches["z"]), 1):
        for tracker in gan.trackers.values():
            tracker.reset_state()
        logs = gan.train_step((tf.constant(real), tf.constant(z)))
        gan.update_ema(step, warm_up=True)
        losses.append([float(logs[k]) for k in ("d_loss_real", "d_loss_fake", "g_loss")])
    return np.array(losses), gan


@pytest.fixture(scope="module")
def parity_runs(tmp_path_factory, tiny_weights, tiny_config) -> tuple[dict, Path]:
    """The same batches, and the folder where one JAX process wrote its steps from them for each of R1_GAMMAS."""
    rng = np.random.default_rng(0)
    size = tiny_config.image_size
    batches = {"real": rng.uniform(-1, 1, (STEPS, BATCH, size, size, 3)).astype(np.float32),
               "z": rng.uniform(-1, 1, (STEPS, BATCH, tiny_config.z_dim)).astype(np.float32)}
    folder = tmp_path_factory.mktemp("jax_parity")
    np.savez(folder / "batches.npz", **batches)
    on_jax(str(HELPER), str(tiny_weights), str(folder / "batches.npz"), str(folder), *map(str, R1_GAMMAS))
    return batches, folder


@pytest.mark.parametrize("r1_gamma", R1_GAMMAS)
def test_a_jax_step_gives_the_losses_and_weights_of_a_tensorflow_step(parity_runs, tiny_weights, r1_gamma):
    batches, folder = parity_runs
    jax_run = np.load(folder / f"jax-{r1_gamma}.npz")
    losses, gan = tensorflow_steps(tiny_weights, batches, r1_gamma)

    # Losses agree to float32 rounding. Weights: on average within 0.1% of how far the 3 steps moved them; one weight
    # may be further apart, at most the 3 Adam steps turned round (2 x 2e-4 each): Adam divides by the gradient's
    # size, so where a gradient is near zero, rounding (more of it through R1's second derivatives) can flip a step.
    np.testing.assert_allclose(jax_run["losses"], losses, rtol=1e-4, atol=1e-5)
    start = load_model(tiny_weights)
    for name, model, initial in (("g", gan.generator, start.generator), ("d", gan.discriminator, start.discriminator),
                                 ("ema", gan.ema_generator, start.generator)):
        weights = model.get_weights()
        apart = np.concatenate([np.abs(jax_run[f"{name}_{i}"] - w).ravel() for i, w in enumerate(weights)])
        moved = np.concatenate([np.abs(w - w0).ravel() for w, w0 in zip(weights, initial.get_weights())])
        assert moved.mean() > 1e-4 and apart.mean() < 1e-3 * moved.mean() and apart.max() <= STEPS * 2 * 2e-4 * 1.01, name


def test_a_jax_run_writes_weights_the_app_loads_and_draws_the_same_faces(tmp_path, tiny_weights, faces_drawn_by_g,
                                                                       tiny_config):
    from core.model import sample_z

    faces = faces_drawn_by_g(8, seed=3)
    z = sample_z(4, tiny_config.z_dim, seed=1).numpy()
    np.save(tmp_path / "z.npy", z)
    # One JAX process (it starts slowly): the command-line run, then its model drawing z on JAX.
    on_jax("-c", "import sys, numpy as np; from core.train_jax import main; from core.weights import load_model; "
           "main(sys.argv[3:]); drawn = load_model(sys.argv[1] + '/model').generator(np.load(sys.argv[2])); "
           "np.save(sys.argv[1] + '/jax_faces.npy', np.asarray(drawn))",
           str(tmp_path / "run"), str(tmp_path / "z.npy"),
           "--data", str(faces), "--init-from", str(tiny_weights), "--out", str(tmp_path / "run"),
           "--minutes", "5", "--steps", "3", "--batch-size", "4", "--log-every", "1", "--snapshots", "0", "--held-out", "2",
           "--output-blur", "0.5")
    model = load_model(tmp_path / "run" / "model")  # TensorFlow, as the app loads it
    assert model.card["steps"] == 3 and model.card["initialised_from"] == str(tiny_weights)
    assert model.config.output_blur == 0.5  # G's low-pass draws the same on JAX as on TensorFlow
    np.testing.assert_allclose(model.generator(z).numpy(), np.load(tmp_path / "run" / "jax_faces.npy"), atol=1e-5)
    start = load_model(tiny_weights).generator(z).numpy()
    assert np.abs(model.generator(z).numpy() - start).max() > 0  # the average moved with the 3 steps
    rows = (tmp_path / "run" / "losses.csv").read_text().splitlines()
    assert rows[0] == "step,d_loss_real,d_loss_fake,g_loss,seen_real,unseen_real,seconds" and len(rows) == 4
    # D's "real" on 2 faces it never trained on, beside 6 it did (all of them here): probabilities, logged each row.
    assert all(0 < float(value) < 1 for row in rows[1:] for value in row.split(",")[4:6])
    assert model.card["images"] == 6
    # A snapshot asked for at minute 0 is the whole model after the first step, loadable as the final one is.
    previous = load_model(tiny_weights).card.get("steps", 0)
    snapshot = load_model(tmp_path / "run" / f"model-step{previous + 1}")
    assert snapshot.card["steps"] == previous + 1 and snapshot.discriminator is not None
    assert 0 < np.abs(snapshot.generator(z).numpy() - model.generator(z).numpy()).max()


def test_faces_travel_as_a_zip_of_jpegs(tmp_path):
    import zipfile

    from core.train_jax import read_faces

    rng = np.random.default_rng(0)
    with zipfile.ZipFile(tmp_path / "faces.zip", "w") as archive:
        for i in range(3):
            path = tmp_path / f"{i}.jpg"
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path, quality=95)
            archive.write(path, f"faces/{i}.jpg")
    faces = read_faces(tmp_path / "faces.zip", 16)
    assert faces.shape == (3, 16, 16, 3) and faces.dtype == np.uint8


def test_the_gpu_script_sets_aside_what_the_run_does_not_need_and_puts_it_back(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_sitting", Path(__file__).parent.parent / "scripts" / "gpu_sitting.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    repo = tmp_path / "repo"
    files = {"core/train_jax.py": b"code", "weights/generator.weights.h5": b"G" * 100, "weights/encoder.weights.h5": b"E",
             "docs/figure.png": b"png", "weights-64/generator.weights.h5": b"g"}
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    monkeypatch.setattr(script, "ROOT", repo)
    monkeypatch.setattr(script, "ASIDE", repo / ".gpu" / "aside")
    assert script.set_aside() == 104  # the code and the shipped G stay
    assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts
                  and ".gpu" not in p.parts) == ["core/train_jax.py", "weights/generator.weights.h5"]
    assert script.restore() == 3
    assert {name: (repo / name).read_bytes() for name in files} == files and not (repo / ".gpu" / "aside").exists()
    assert len(script.device_command(8)) <= 2000  # the device tool's limit on a command
