"""The page's edits measured on real photos, at both ends of each direction: does the attribute move the right way,
is the face still the same person (core.identity, dlib's face embedding), does the edit bring colours the face did
not have, or lighten or darken what it changed? Compares the whole-face edits with nothing held, the local edits
without the rest of G's face kept (core.edit.KeepRest) and the page's defaults (PHOTO_SETTINGS), and finds each
slider's range: the farthest amount at which the app's edit still holds the bars (SliderBar).

python -m core.edit_report ../shared/data/lfw-dev --limit 24 --amount 3
python -m core.edit_report ../shared/data/lfw-dev --limit 24 --amount 1 1.5 2 2.5 3 --app-only --write-limits
python -m core.edit_report --random --limit 24 --amount 0.5 1 1.5 2 2.5 3 --app-only --write-limits
(LIMITS_COMMANDS: what writes the slider ranges the app reads, for photos and for the grid's random faces)
"""
from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from core.align import FaceAligner, find_images, load_faces
from core.attributes import FaceMeter, load_age_gender
from core.cli import argument_parser
from core.face_filler import FaceFiller
from core.directions import (
    DIRECTIONS_FILE, GRID_SLIDERS_KEY, LABELS, SLIDERS_KEY, Directions, load_directions, rises_and_falls,
)
from core.edit import KEEP_REST, KeepRest, edit_face, generated_face, project_face
from core.model import sample_z
from core.identity import SAME_PERSON, IdentityMeter, lightness_shift, new_colour_share
from core.masks import face_mask
from core.inpaint import photo_fill
from core.weights import MODEL_JSON, WeightsError, load_model, read_model_json, write_json


def photo_edit_effects(filler, meter: FaceMeter, directions: Directions, projected: Sequence, amount: float,
                       local: bool = True, hold: Sequence[str] | None = None, identity=None,
                       keep: KeepRest | None = KEEP_REST, names: Sequence[str] | None = None) -> dict:
    """The directions on real faces (core.edit.ProjectedFace), edited as the app does (core.edit.edit_face; local,
    hold and keep as there): for each direction, the share of faces whose attribute rises at +amount and falls at
    -amount; the share of changed pixels in colours the face did not have (core.identity.new_colour_share); how far
    the edit lightened or darkened what it changed (the mean size of core.identity.lightness_shift, L* units); and
    with an identity meter (core.identity.IdentityMeter), the share of edits, at either end, still the same person.
    names: only these directions (None: all)."""
    def before_and_face(p) -> tuple[np.ndarray, np.ndarray]:
        """The photo (or aligned face) an edit is seen in, and where its face is."""
        if p.source is None:
            return p.face, face_mask(len(p.face)).fill
        photo, alignment = p.source
        return photo, photo_fill(photo.shape, alignment, face_mask(len(p.face)))

    base = meter.measure(np.stack([p.face for p in projected]))
    report: dict = {"psnr": round(float(np.mean([p.psnr for p in projected])), 2)}
    for name in directions.names if names is None else names:
        ends = [[edit_face(filler, directions, p, {name: sign * amount}, hold, local=local, keep=keep)
                 for p in projected]
                for sign in (1, -1)]
        plus, minus = (meter.measure(np.stack([e.face for e in edits])) for edits in ends)
        report[name] = entry = rises_and_falls(base, plus, minus, name)
        colours, shifts, distances = [], [], []
        for p, edits in zip(projected, zip(*ends)):
            before, face = before_and_face(p)
            after = [e.face if e.pasted is None else e.pasted for e in edits]
            colours += [new_colour_share(before, image, face) for image in after]
            shifts += [abs(lightness_shift(before, image)) for image in after]
            if identity is not None:
                distances += list(identity.distances(before, after))
        entry["new_colour"] = round(float(np.mean(colours)), 4)
        entry["lightness_shift"] = round(float(np.mean(shifts)), 2)
        if distances and not np.isnan(distances).all():
            entry["same_person"] = float(np.mean(np.array(distances)[~np.isnan(distances)] < SAME_PERSON))
    return report


APP = "local, tangled held, rest kept (the app)"
PHOTO_SETTINGS = {  # what main compares: the edits before local regions and holds, before G kept the rest, and now
    "whole face, nothing held": {"local": False, "hold": (), "keep": None},
    "local, tangled held": {"local": True, "hold": None, "keep": None},
    APP: {"local": True, "hold": None},
}
LIMITS_COMMANDS = (  # photos, then the grid's random faces
    "python -m core.edit_report ../shared/data/lfw-dev --limit 24 --amount 1 1.5 2 2.5 3 --app-only --write-limits",
    "python -m core.edit_report --random --limit 24 --amount 0.5 1 1.5 2 2.5 3 --app-only --write-limits",
)


@dataclass(frozen=True)
class SliderBar:
    """What an edit at a slider's end must keep, as shares of real photos (issue 35): the attribute rises at +amount
    and falls at -amount, and the face is still the same person (dlib) at both ends."""

    moves: float = 0.9
    same_person: float = 0.9

    def __post_init__(self) -> None:
        if not (0 < self.moves <= 1 and 0 < self.same_person <= 1):
            raise ValueError("the bars are shares of photos, in (0, 1]")

    def keeps_person(self, entry: Mapping) -> bool:
        """Whether one direction's figures at one amount (photo_edit_effects) keep the person often enough (a face
        the identity meter lost counts as not kept)."""
        return entry.get("same_person", float("nan")) >= self.same_person

    def holds(self, entry: Mapping) -> bool:
        """Whether they also move the attribute the right way both ways often enough."""
        return min(entry["up"], entry["down"]) >= self.moves and self.keeps_person(entry)


def slider_limits(by_amount: Mapping[float, Mapping], names: Sequence[str], bar: SliderBar = SliderBar()) -> dict:
    """Each direction's range: the largest measured amount at which the edit holds the bar, the person kept at every
    smaller one too. A direction that moves its attribute both ways often enough at no amount gets the largest amount
    that keeps the person (a shorter slider would not make it move); the smallest measured where none does."""
    amounts = sorted(by_amount)
    limits = {}
    for name in names:
        kept = [a for a in amounts if all(bar.keeps_person(by_amount[b][name]) for b in amounts if b <= a)]
        holding = [a for a in kept if bar.holds(by_amount[a][name])]
        limits[name] = max(holding or kept or amounts[:1])
    return limits


def write_limits(weights: Path, by_amount: Mapping[float, Mapping], limits: Mapping[str, float], bar: SliderBar,
                 photos: str, command: str, grid: bool = False) -> None:
    """Store the slider ranges in the weights' card (directions.sliders, or for G's random faces grid_sliders),
    where core.directions.load_directions and so the Explore page and core.edit read them. Ranges of only some
    directions (a direction changed and measured again) replace theirs and keep the others', with their command
    under "remeasured"."""
    meta = read_model_json(weights)
    section = meta["card"].setdefault("directions", {})
    key = GRID_SLIDERS_KEY if grid else SLIDERS_KEY
    before = section.get(key)
    stored = section[key] = {"limits": dict(limits), "bar": asdict(bar), "photos": photos, "command": command,
                          "computed": date.today().isoformat(),
                          "measured": {f"{a:g}": {n: {k: v for k, v in r[n].items() if k in ("up", "down", "same_person",
                                                                                           "new_colour", "lightness_shift")}
                                                  for n in limits} for a, r in sorted(by_amount.items())}}
    if before and set(limits) < set(before["limits"]):
        stored.update({k: before[k] for k in ("photos", "command", "computed") if k in before})
        stored["limits"] = {**before["limits"], **limits}
        stored["measured"] = {a: {**before["measured"].get(a, {}), **stored["measured"].get(a, {})}
                              for a in {**before["measured"], **stored["measured"]}}
        stored["remeasured"] = {**before.get("remeasured", {}),
                                **{n: {"command": command, "computed": date.today().isoformat()} for n in limits}}
    write_json(weights / MODEL_JSON, {**meta, "config": meta["config"].to_dict()})


def main(argv: list[str] | None = None) -> None:
    """Each shipped direction on real photos, projected, G tuned to each and edited at both ends as the app
    does: how often the attribute moves the right way, the edit is still the same person (core.identity), and it
    brings colours the face did not have; for the whole-face edits with nothing held, and for the app's defaults."""
    parser = argument_parser("The page's edits measured on real photos: attribute, identity and new colours.")
    parser.add_argument("photos", type=Path, nargs="?",
                        help="a folder of face photos (aligned on the fly; never trained on)")
    parser.add_argument("--random", action="store_true",
                        help="instead of photos: G's own random faces, as the Explore page's grid edits them")
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="model folder with directions.npz")
    parser.add_argument("--limit", type=int, default=24, help="how many faces")
    parser.add_argument("--amount", type=float, nargs="+", default=[3.0],
                        help="units moved along each direction, both ways (several: one table each)")
    parser.add_argument("--app-only", action="store_true", help="measure only the app's edits (local, tangled held)")
    parser.add_argument("--directions", nargs="+", metavar="NAME",
                        help="measure only these directions (with --write-limits, their ranges replace theirs alone)")
    parser.add_argument("--write-limits", action="store_true",
                        help="store each slider's range (the farthest --amount holding the bars) in the weights' card")
    args = parser.parse_args(argv)
    if (args.photos is None) != args.random:
        parser.error("give a folder of photos or --random, not both")
    if args.write_limits and (not args.app_only or len(args.amount) < 2):
        parser.error("--write-limits measures the app's edits at several amounts: add --app-only and --amount A B ...")
    try:
        model = load_model(args.weights)
        directions = load_directions(args.weights, model.config.z_dim)
        age_gender = load_age_gender(args.weights, model.config.image_size)
        identity = IdentityMeter()
    except (WeightsError, RuntimeError) as err:
        parser.exit(2, f"error: {err}\n")
    if directions is None:
        parser.exit(2, f"error: {args.weights} has no {DIRECTIONS_FILE}\n")
    names = args.directions or directions.names
    unknown = sorted(set(names) - set(directions.names))
    if unknown:
        parser.error(f"no direction {', '.join(unknown)}; there are {', '.join(directions.names)}")
    filler = FaceFiller(model)
    if args.random:
        with FaceAligner(max_faces=1) as aligner:  # the faces the landmark model finds, as the page's edits need
            drawn = [generated_face(filler, z, aligner) for z in sample_z(args.limit * 2, model.config.z_dim,
                                                                          seed=1).numpy()]
        projected = [face for face in drawn if face.landmarks is not None][: args.limit]
        if not projected:
            parser.exit(1, "error: the landmark model found no face among G's samples\n")
        what = f"{len(projected)} random faces of G (seed 1)"
    else:
        faces, sources, _ = load_faces(find_images(args.photos)[: args.limit * 2], model.config.image_size)
        projected = [project_face(filler, face, source) for face, source in list(zip(faces, sources))[: args.limit]]
        what = f"{len(projected)} photos of {args.photos}, G tuned to each ({np.mean([p.psnr for p in projected]):.2f} dB)"
    settings = {APP: PHOTO_SETTINGS[APP]} if args.app_only else PHOTO_SETTINGS
    app_results = {}
    with FaceMeter(age_gender) as meter:
        for amount in args.amount:
            results = {label: photo_edit_effects(filler, meter, directions, projected, amount, identity=identity,
                                                 names=names, **setting) for label, setting in settings.items()}
            app_results[amount] = results[APP]
            print(f"{what}; edits at +-{amount:g}: rises / falls, still the same person (dlib), changed pixels in "
                  "new colours, lightness shift (L*)")
            print("| direction | " + " | ".join(results) + " |\n" + "| --- " * (len(results) + 1) + "|")
            for name in names:
                print(f"| {name} | " + " | ".join(
                    f"{r[name]['up']:.0%} / {r[name]['down']:.0%}, {r[name].get('same_person', float('nan')):.0%} "
                    f"same, {r[name]['new_colour']:.1%} new colour, {r[name]['lightness_shift']:.1f} L*"
                    for r in results.values()) + " |", flush=True)
    if len(app_results) < 2:  # a range is read off several amounts
        return
    bar = SliderBar()
    limits = slider_limits(app_results, names, bar)
    print("slider ranges (the farthest amount at which the app's edit moves the attribute both ways and keeps the "
          f"person on {bar.moves:.0%} / {bar.same_person:.0%} of the faces): "
          + ", ".join(f"{LABELS.get(n, n)} +-{limit:g}" for n, limit in limits.items()))
    if args.write_limits:
        command = "python -m core.edit_report " + shlex.join(sys.argv[1:] if argv is None else argv)
        faces = what if args.random else f"{len(projected)} of {args.photos.name}"
        write_limits(args.weights, app_results, limits, bar, faces, command, grid=args.random)
        print(f"written to {args.weights / MODEL_JSON} (directions.{GRID_SLIDERS_KEY if args.random else SLIDERS_KEY})")


if __name__ == "__main__":
    main()
