"""Editing the example photo as the Explore page does: projecting it once, then one slider move (a whole-face
direction, and a local one whose region G keeps the rest of its face for), at two photo sizes, each as a ratio to one
forward pass of G in the same process.

python -m benchmarks.edit_photo [--weights weights]
"""
from __future__ import annotations

import time
from pathlib import Path

import core  # noqa: F401  (TensorFlow's environment first)
from core.cli import argument_parser

ROOT = Path(__file__).resolve().parent.parent


def seconds(call, repeats: int = 3) -> float:
    """The best of repeats calls (after one warm-up call), in seconds."""
    call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    import cv2
    import numpy as np

    from core.align import FaceAligner
    from core.face_filler import FaceFiller
    from core.directions import load_directions
    from core.edit import edit_face, project_face
    from core.images import read_image
    from core.regions import LOCAL_PARTS
    from core.weights import load_model

    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=ROOT / "weights", help="model folder")
    args = parser.parse_args()
    model = load_model(args.weights)
    filler = FaceFiller(model)
    directions = load_directions(args.weights, model.config.z_dim)
    whole = next(name for name in directions.names if name not in LOCAL_PARTS)
    local = next(name for name in directions.names if name in LOCAL_PARTS)
    photo = read_image(ROOT / "examples" / "astronaut.jpg")
    z = np.zeros((1, model.config.z_dim), np.float32)
    forward = seconds(lambda: model.generator(z, training=False).numpy(), 10)
    print(f"one forward pass of G        {forward * 1e3:8.1f} ms")
    with FaceAligner() as aligner:
        for side in (512, 2048):
            big = cv2.resize(photo, (side, side), interpolation=cv2.INTER_CUBIC)
            alignment = aligner.align(big, model.config.image_size)
            projected = project_face(filler, alignment.face, (big, alignment))
            project = seconds(lambda: project_face(filler, alignment.face, (big, alignment)), 1)
            moves = [seconds(lambda: edit_face(filler, directions, projected, {name: 1.5})) for name in (whole, local)]
            print(f"{side} px photo: projection + tuning {project:6.2f} s ({project / forward:6.0f}x G), a slider "
                  + ", ".join(f"move on {name} {move * 1e3:6.0f} ms ({move / forward:5.0f}x G)"
                              for name, move in zip((whole, local), moves)))


if __name__ == "__main__":
    main()
