"""Shared fixtures: tiny models and synthetic images, so tests need no ../shared data."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core  # noqa: F401  (sets TensorFlow's environment before it loads)
from core.config import ModelConfig
from core.model import build_discriminator, build_generator
from core.weights import TrainedModel, save_model
from tests.helpers.drawn_faces import write_faces_drawn_by

TINY = ModelConfig(image_size=16, z_dim=8, gf=4, df=4)


@pytest.fixture(scope="session")
def tiny_config() -> ModelConfig:
    return TINY


@pytest.fixture(scope="session")
def tiny_job_args() -> dict:
    """Arguments for core.jobs.start: the tiny model, small batches, a checkpoint and log line every step."""
    return dict(asdict(TINY), batch_size=4, log_every=1, sample_every=2, checkpoint_every=1)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A saved, untrained tiny model (weights are seeded, so outputs are reproducible)."""
    import keras

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("tiny_weights")
    save_model(folder, TINY, build_generator(TINY), build_discriminator(TINY), card={"steps": 0})
    return folder


@pytest.fixture(scope="session")
def tiny_model(tiny_weights) -> TrainedModel:
    from core.weights import load_model

    return load_model(tiny_weights)


@pytest.fixture
def faces_drawn_by_g(tmp_path, tiny_model):
    """write(count, seed) -> a folder of count PNGs of the tiny G's own samples (z seeded), for the CLIs' tests."""
    return lambda count, seed: write_faces_drawn_by(tiny_model, tmp_path / "faces", count, seed)


@pytest.fixture
def synthetic_faces(tmp_path) -> Path:
    """A folder of 12 small random images, one unreadable file and one text file."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "faces"
    (folder / "sub").mkdir(parents=True)
    for i in range(12):
        target = folder / "sub" if i % 2 else folder
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(target / f"{i}.png")
    (folder / "broken.png").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored")
    return folder


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real face photo that scikit-image ships (Eileen Collins, NASA, public domain)."""
    from skimage import data

    return data.astronaut()


# pytest-xdist's workers (-n 2 in pyproject.toml) take whole modules in the order they were collected. The modules that
# take longest on 2 cores (a fresh virtual environment, two training workers, a browser, processes killed at random)
# go first, so the many short ones run beside them instead of leaving them alone at the end.
LONGEST_FIRST = ("test_install.py", "test_distribute.py", "test_browser.py", "test_kill_resume.py", "test_train_jax.py",
                 "test_jobs.py", "test_sitting.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
