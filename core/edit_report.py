"""The page's edits measured on real photos, at both ends of each direction: does the attribute move the right way,
is the face still the same person (core.identity, dlib's face embedding), and does the edit bring colours the face
did not have? Compares the whole-face edits with nothing held and the page's defaults (PHOTO_SETTINGS).

python -m core.edit_report ../shared/data/lfw-dev --limit 24 --amount 3
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from core.align import find_images, load_faces
from core.attributes import FaceMeter, load_age_gender
from core.cli import argument_parser
from core.completer import Completer
from core.directions import DIRECTIONS_FILE, Directions, load_directions, rises_and_falls
from core.edit import edit_face, project_face
from core.identity import SAME_PERSON, IdentityMeter, new_colour_share
from core.masks import face_mask
from core.pipeline import photo_fill
from core.weights import WeightsError, load_model


def photo_edit_effects(completer, meter: FaceMeter, directions: Directions, projected: Sequence, amount: float,
                       local: bool = True, hold: Sequence[str] | None = None, identity=None) -> dict:
    """The directions on real faces (core.edit.ProjectedFace), edited as the app does (core.edit.edit_face; local and
    hold as there): for each direction, the share of faces whose attribute rises at +amount and falls at -amount;
    the share of changed pixels in colours the face did not have (core.identity.new_colour_share); and with an
    identity meter (core.identity.IdentityMeter), the share of edits, at either end, still the same person."""
    def before_and_face(p) -> tuple[np.ndarray, np.ndarray]:
        """The photo (or aligned face) an edit is seen in, and where its face is."""
        if p.source is None:
            return p.face, face_mask(len(p.face)).fill
        photo, alignment = p.source
        return photo, photo_fill(photo.shape, alignment, face_mask(len(p.face)))

    base = meter.measure(np.stack([p.face for p in projected]))
    report: dict = {"psnr": round(float(np.mean([p.psnr for p in projected])), 2)}
    for name in directions.names:
        ends = [[edit_face(completer, directions, p, {name: sign * amount}, hold, local=local) for p in projected]
                for sign in (1, -1)]
        plus, minus = (meter.measure(np.stack([e.face for e in edits])) for edits in ends)
        report[name] = entry = rises_and_falls(base, plus, minus, name)
        colours, distances = [], []
        for p, edits in zip(projected, zip(*ends)):
            before, face = before_and_face(p)
            after = [e.face if e.pasted is None else e.pasted for e in edits]
            colours += [new_colour_share(before, image, face) for image in after]
            if identity is not None:
                distances += list(identity.distances(before, after))
        entry["new_colour"] = round(float(np.mean(colours)), 4)
        if distances and not np.isnan(distances).all():
            entry["same_person"] = float(np.mean(np.array(distances)[~np.isnan(distances)] < SAME_PERSON))
    return report


PHOTO_SETTINGS = {  # what main compares: the edits before local regions and holds, and the app's defaults
    "whole face, nothing held": {"local": False, "hold": ()},
    "local, tangled held (the app)": {"local": True, "hold": None},
}


def main(argv: list[str] | None = None) -> None:
    """Each shipped direction on real photos, projected, G tuned to each and edited at both ends as the app
    does: how often the attribute moves the right way, the edit is still the same person (core.identity), and it
    brings colours the face did not have; for the whole-face edits with nothing held, and for the app's defaults."""
    parser = argument_parser("The page's edits measured on real photos: attribute, identity and new colours.")
    parser.add_argument("photos", type=Path, help="a folder of face photos (aligned on the fly; never trained on)")
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="model folder with directions.npz")
    parser.add_argument("--limit", type=int, default=24, help="how many faces")
    parser.add_argument("--amount", type=float, default=3.0, help="units moved along each direction, both ways")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.weights)
        directions = load_directions(args.weights, model.config.z_dim)
        age_gender = load_age_gender(args.weights, model.config.image_size)
        identity = IdentityMeter()
    except (WeightsError, RuntimeError) as err:
        parser.exit(2, f"error: {err}\n")
    if directions is None:
        parser.exit(2, f"error: {args.weights} has no {DIRECTIONS_FILE}\n")
    faces, sources, _ = load_faces(find_images(args.photos)[: args.limit * 2], model.config.image_size)
    completer = Completer(model)
    projected = [project_face(completer, face, source) for face, source in list(zip(faces, sources))[: args.limit]]
    with FaceMeter(age_gender) as meter:
        results = {label: photo_edit_effects(completer, meter, directions, projected, args.amount,
                                             identity=identity, **setting)
                   for label, setting in PHOTO_SETTINGS.items()}
    print(f"{len(projected)} photos of {args.photos}, G tuned to each ({results[next(iter(results))]['psnr']:.2f} dB); "
          f"edits at +-{args.amount:g}: rises / falls, still the same person (dlib), changed pixels in new colours")
    print("| direction | " + " | ".join(results) + " |\n" + "| --- " * (len(results) + 1) + "|")
    for name in directions.names:
        print(f"| {name} | " + " | ".join(
            f"{r[name]['up']:.0%} / {r[name]['down']:.0%}, {r[name].get('same_person', float('nan')):.0%} same, "
            f"{r[name]['new_colour']:.1%} new colour" for r in results.values()) + " |")


if __name__ == "__main__":
    main()
