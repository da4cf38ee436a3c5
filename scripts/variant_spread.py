"""Where the fills offered lose their differences: how far apart four fills of a face are in the hole (mean absolute
difference of each pair, grey levels) at their starts, after the search, after fine-tuning G and after the blend.

python scripts/variant_spread.py ../shared/data/lfw-dev --limit 8 [--shared-tuning]
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tensorflow as tf  # noqa: E402

from core.align import FaceAligner, find_images  # noqa: E402
from core.cli import argument_parser  # noqa: E402
from core.completer import Completer, contextual_weights  # noqa: E402
from core.images import ImageError, read_image, to_model, to_uint8  # noqa: E402
from core.masks import preset_mask  # noqa: E402
from core.weights import load_model  # noqa: E402

VARIANTS = 4


def spread(fills: np.ndarray, fill: np.ndarray) -> float:
    """Mean absolute difference of each pair of one face's fills (VARIANTS, S, S, 3 uint8) in the hole."""
    return float(np.mean([np.abs(fills[a][fill].astype(float) - fills[b][fill]).mean()
                          for a in range(VARIANTS) for b in range(a + 1, VARIANTS)]))


def main() -> None:
    parser = argument_parser(__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of face photos (aligned on the fly)")
    parser.add_argument("--weights", default="weights", help="model folder")
    parser.add_argument("--limit", type=int, default=8, help="faces")
    parser.add_argument("--mask", default="center", help="preset mask")
    parser.add_argument("--shared-tuning", action="store_true", help="fit G' to all four fills at once")
    args = parser.parse_args()
    model = load_model(args.weights)
    size = model.config.image_size
    faces = []
    with FaceAligner(max_faces=1) as aligner:
        for path in find_images(args.folder):
            try:
                faces.append(aligner.align(read_image(path), size).face)
            except (ImageError, ValueError):
                continue
            if len(faces) == args.limit:
                break
    faces, mask = np.stack(faces), preset_mask(args.mask, size)
    config = replace(model.completion, tune_first_variant=not args.shared_tuning)
    completer = Completer(model)
    y = tf.constant(np.repeat(to_model(faces), VARIANTS, axis=0))
    known = tf.constant(np.repeat(mask.known[None, ..., None], len(y), axis=0))
    w = tf.constant(np.repeat(contextual_weights(mask)[None], len(y), axis=0))
    starts = to_uint8(completer._draw(completer._initial_z(y, known, w, config, 1, VARIANTS), "float32").numpy())
    result = completer.complete(faces, mask, config, variants=VARIANTS)
    searched = to_uint8(completer._draw(tf.constant(result.z), "float32").numpy())
    stages = {"start": starts, "searched": searched, "tuned": to_uint8(result.generated), "blended": result.blended}
    print(f"{len(faces)} faces, {args.mask} mask, {'shared' if args.shared_tuning else 'first-fill'} tuning: "
          + ", ".join(f"{name} {np.mean([spread(images[i:i + VARIANTS], mask.fill) for i in range(0, len(images), VARIANTS)]):.1f}"
                      for name, images in stages.items()))


if __name__ == "__main__":
    main()
