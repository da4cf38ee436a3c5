"""A no-reference sanity check of a generator: how often does mediapipe find a face in its samples?

python -m core.realism --weights weights --samples 1000
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from core.align import FaceAligner
from core.images import to_uint8
from core.model import sample_z
from core.weights import TrainedModel, load_model

DETECT_SIDE = 256  # the detector wants more than 64 pixels; samples are upscaled first


def upscaled(image: np.ndarray, side: int = DETECT_SIDE) -> np.ndarray:
    """A small face enlarged (bicubic) to side x side, so mediapipe can see it."""
    return np.ascontiguousarray(cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC))


def faces_found(aligner: FaceAligner, images: np.ndarray) -> np.ndarray:
    """(N,) bool: does FaceLandmarker find a face in each small uint8 face image?"""
    return np.array([bool(aligner.landmarks(upscaled(image))) for image in images], bool)


def detection_rate(model: TrainedModel, samples: int = 1000, seed: int = 0, batch: int = 100) -> float:
    """Fraction of generated samples in which FaceLandmarker finds a face with landmarks."""
    found = 0
    with FaceAligner(max_faces=1) as aligner:
        for start in range(0, samples, batch):
            n = min(batch, samples - start)
            images = to_uint8(model.generator(sample_z(n, model.config.z_dim, seed + start), training=False).numpy())
            found += int(faces_found(aligner, images).sum())
    return found / samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=Path("weights"))
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rate = detection_rate(load_model(args.weights), args.samples, args.seed)
    print(f"mediapipe found a face in {rate:.1%} of {args.samples} generated samples ({args.weights})")


if __name__ == "__main__":
    main()
