"""Where one photo's fills spend their time: each stage's seconds and share of the total, warm.

python -m benchmarks.fill_profile [--weights weights] [--fills 4] [--runs 2]

Fills the astronaut's face (scikit-image's photo, the centre hole) as the Inpaint page does with its defaults
(core.inpaint.complete_faces), after a warm-up, and times the named stages: the start pool, the search on z, G's
tuning, the other fills' search, and the blend, paste-back and photo detail. Stages nest (the search is inside the
first fill), so shares do not add up to 100%. Run it alone: a busy machine stretches some stages more than others.
"""
from __future__ import annotations

import collections
import functools
import time
from pathlib import Path

import core  # noqa: F401  (sets TF_ENABLE_ONEDNN_OPTS before TensorFlow loads)
from core import inpaint
from core.align import FaceAligner
from core.cli import argument_parser
from core.face_filler import FaceFiller
from core.directions import load_directions
from core.masks import center_mask
from core.inpaint import FillRequest, complete_faces
from core.search import ZSearch
from core.tuning import GTuner
from core.weights import load_model

# (owner, attribute, what it is): each is timed wherever it is called from.
STAGES = [
    (FaceFiller, "complete", "first fill (start pool, search, G tuned)"),
    (ZSearch, "ranked_pool", "  start pool scored"),
    (GTuner, "tuned_generate", "  G tuned to the face"),
    (FaceFiller, "other_fills", "other fills (search, drawn by G')"),
    (ZSearch, "iterate", "search steps, first and other fills"),
    (FaceFiller, "_edited_fills", "  edits drawn, kept to the photo's colours, blended, scored by D"),
    (GTuner, "generate_with", "  other fills drawn by G'"),
    (inpaint, "blend_in", "blend into the aligned face"),
    (inpaint, "paste_back", "paste-back into the photo"),
    (inpaint, "with_photo_detail", "  the photo's own detail"),
]


def timed_stages() -> dict[str, list[float]]:
    """Wrap each stage so its calls add their seconds to the returned dict (label -> [seconds, calls])."""
    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
    for owner, name, label in STAGES:
        original = getattr(owner, name)

        def wrapper(*args, _original=original, _label=label, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_label][0] += time.perf_counter() - start
                totals[_label][1] += 1

        setattr(owner, name, functools.wraps(original)(wrapper))
    return totals


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="model folder")
    parser.add_argument("--fills", type=int, default=4, help="fills to choose from, as the page offers")
    parser.add_argument("--runs", type=int, default=2, help="timed fills after the warm-up")
    args = parser.parse_args()
    from skimage import data

    model = load_model(args.weights)
    filler = FaceFiller(model, load_directions(args.weights, model.config.z_dim))  # as the app: other fills by edits
    filler.warm_up()
    photo = data.astronaut()
    with FaceAligner(max_faces=1) as aligner:
        alignment = aligner.align(photo, model.config.image_size)
    request = FillRequest(alignment.face, center_mask(model.config.image_size), photo, alignment)
    complete_faces(filler, [request], None, args.fills)  # the first fill after a warm-up still settles caches
    totals = timed_stages()
    for run in range(args.runs):
        totals.clear()
        shown: list[float] = []
        start = time.perf_counter()
        # As the page: the first fill is shown, in the photo, as soon as it is made; the others' photos when picked.
        (fills,) = complete_faces(filler, [request], None, args.fills,
                                  on_first=lambda first: (first[0].pasted, shown.append(time.perf_counter() - start)))
        fills[0].pasted
        total = time.perf_counter() - start
        first = f"first fill ready after {shown[0]:.2f} s, " if shown else ""
        print(f"run {run + 1}: {first}all {args.fills} after {total:.2f} s")
        for _, _, label in STAGES:
            seconds, calls = totals.get(label, (0.0, 0))
            print(f"  {label:<42} {seconds:6.2f} s  {seconds / total:4.0%}  ({calls} call{'s' * (calls != 1)})")


if __name__ == "__main__":
    main()
