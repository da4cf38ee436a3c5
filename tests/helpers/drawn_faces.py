"""Face images a model's own G draws: test photos that need no data set."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.images import to_uint8
from core.model import sample_z
from core.weights import TrainedModel


def write_faces_drawn_by(model: TrainedModel, folder: Path, count: int, seed: int) -> Path:
    """folder, made and holding count PNGs of model's G's own samples (z seeded)."""
    folder.mkdir()
    samples = to_uint8(model.generator(sample_z(count, model.config.z_dim, seed=seed)).numpy())
    for i, face in enumerate(samples):
        Image.fromarray(face).save(folder / f"{i}.png")
    return folder
