"""Make the README's and docs/performance.md's completion figures from the example photo with the shipped weights and defaults.

.venv/bin/python scripts/readme_figures.py [--out docs]

example_faces.png: the aligned face for the centre and a stroke mask: truth, masked, OpenCV Telea, FaceFill.
example_photo.png: the photo round the face: with the hole, G's face pasted without blending, and
FaceFill's Poisson paste-back at the photo's resolution.
example_detail.png: the photo round the face at 100% and its centre filled: as first released (the 64 px model, the
'thorough' settings, without the photo's detail), by the 64 px model with today's defaults, and by the shipped model
with 25 fine-tuning steps (its earlier default) and with its defaults.
example_edits.png: each shipped direction from one end of its slider to the other (-range, -range/2, 0, +range/2,
+range; the card's ranges for photos and for the grid's faces), on the example face (projected, the change blended in)
and on one of G's own samples, edited as the Explore page does.
example_local_edits.png: the photo round the face and, for each local direction at -3 and at +3 (the model card's
comparison at ±3), the whole face changed with nothing held (the edit before local regions, but with colours
bounded) and the page's edit now (local, the tangled direction held, the rest of G's face kept).
Only the example photo (public domain) is used: the data sets' faces must not be committed.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.align import FaceAligner  # noqa: E402
from core.cli import argument_parser  # noqa: E402
from core.face_filler import FaceFiller  # noqa: E402
from core.config import CompletionConfig, completion_preset  # noqa: E402
from core.directions import load_directions  # noqa: E402
from core.edit import edit_face, generated_face, project_face  # noqa: E402
from core.images import image_grid, read_image, save_png  # noqa: E402
from core.masks import center_mask, masked_preview, stroke_mask  # noqa: E402
from core.model import sample_z  # noqa: E402
from core.photo_mask import face_view, zoomed  # noqa: E402
from core.inpaint import FillRequest, complete_faces, paste_back, photo_fill  # noqa: E402
from core.regions import LOCAL_PARTS  # noqa: E402
from core.weights import load_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCALE = 3  # aligned faces are enlarged for the page
STOPS = (-1, -0.5, 0, 0.5, 1)  # where along a slider's range the edit figure's columns sit


def enlarge(image: np.ndarray, scale: int = SCALE) -> np.ndarray:
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def centre_filled(filler: FaceFiller, photo: np.ndarray, configs: list[CompletionConfig]) -> list[np.ndarray]:
    """photo with the centre of its face filled by filler's model under each config, aligned at the model's size."""
    with FaceAligner() as aligner:
        alignment = aligner.align(photo, filler.size)
    mask = center_mask(filler.size)
    return [complete_faces(filler, [FillRequest(alignment.face, mask, photo, alignment)], config)[0][0].pasted
            for config in configs]


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the figures")
    parser.add_argument("--weights", type=Path, default=ROOT / "weights", help="model folder")
    parser.add_argument("--before", type=Path, default=ROOT / "weights-64", help="model folder of the fills before")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    model = load_model(args.weights)
    filler = FaceFiller(model)
    size = filler.size
    photo = read_image(ROOT / "examples" / "astronaut.jpg")
    with FaceAligner() as aligner:
        alignment = aligner.align(photo, size)
    face = alignment.face
    config = model.completion
    # The face's surroundings in the photo: the aligned frame's corners mapped back, with a margin.
    corners = cv2.transform(np.array([[[0, 0], [size, 0], [0, size], [size, size]]], np.float32),
                            cv2.invertAffineTransform(alignment.matrix))[0]
    (x0, y0), (x1, y1) = corners.min(axis=0).astype(int), corners.max(axis=0).astype(int)
    crop = (slice(max(y0, 0), y1), slice(max(x0, 0), x1))

    face_rows, photo_rows, detail_row = [], [], []
    for mask in (center_mask(size), stroke_mask(size, seed=3)):
        ((done,),) = complete_faces(filler, [FillRequest(face, mask, photo, alignment)], config)
        telea = cv2.inpaint(masked_preview(face, mask), mask.fill.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
        face_rows += [enlarge(image) for image in (face, done.masked, telea, done.completed)]
        holed = photo.copy()
        holed[photo_fill(photo.shape, alignment, mask)] = 128
        unblended = paste_back(photo, alignment, done.generated, mask, replace(config, blend=False))
        photo_rows += [image[crop] for image in (holed, unblended, done.pasted)]
        if not detail_row:  # the centre mask at 100%: the photo, the fills before, the fill today
            before = replace(completion_preset("thorough"), photo_detail=False)
            smaller = load_model(args.before)
            earlier = centre_filled(FaceFiller(smaller), photo, [before, smaller.completion])
            shorter = centre_filled(filler, photo, [completion_preset("short-tuning", config)])
            detail_row = [image[crop] for image in (photo, *earlier, *shorter, done.pasted)]
    save_png(args.out / "example_faces.png", image_grid(np.stack(face_rows), columns=4))
    height = 240  # the face is ~100 px wide in the photo: enlarged for the page
    photo_rows = [cv2.resize(image, (image.shape[1] * height // image.shape[0], height), interpolation=cv2.INTER_CUBIC)
                  for image in photo_rows]
    save_png(args.out / "example_photo.png", image_grid(np.stack(photo_rows), columns=3))
    save_png(args.out / "example_detail.png", image_grid(np.stack(detail_row), columns=len(detail_row)))
    print(f"wrote {args.out / 'example_faces.png'}, {args.out / 'example_photo.png'} and {args.out / 'example_detail.png'}")

    directions = load_directions(args.weights, filler.z_dim)
    if directions is not None:
        projected = project_face(filler, face, (photo, alignment))
        with FaceAligner() as aligner:
            sample = generated_face(filler, sample_z(1, filler.z_dim, seed=7).numpy()[0], aligner)
        rows = []
        for name in directions.names:
            for face, grid in ((projected, False), (sample, True)):
                rows += [edit_face(filler, directions, face, {name: stop * directions.limit(name, grid)}).face
                         for stop in STOPS]
        save_png(args.out / "example_edits.png", enlarge(image_grid(np.stack(rows), columns=2 * len(STOPS)), 2))
        view = face_view(photo.shape, alignment, filler.size, 256, max_shown_height=256)
        local = []
        for name in [d for d in directions.names if d in LOCAL_PARTS]:
            local.append(zoomed(photo, view))
            for amount in (-3, 3):
                for setting in ({"hold": (), "local": False}, {}):
                    local.append(zoomed(edit_face(filler, directions, projected, {name: amount}, **setting).pasted,
                                        view))
        save_png(args.out / "example_local_edits.png", image_grid(np.stack(local), columns=5))
        print(f"wrote {args.out / 'example_edits.png'} and {args.out / 'example_local_edits.png'}: "
              f"{', '.join(directions.names)}")

if __name__ == "__main__":
    main()
