"""Editing a real face along attribute directions: align, project into z, move z, paste the change back.

After projection, a copy of G is fine-tuned to draw this very face at its z (pivotal tuning,
Roich et al. 2022): near z it still follows G's directions, so G'(z') is this person edited
rather than a stranger who shares the attribute. The edit is what that face gains between z
and the edited z: G'(z') - G'(z). Added to the photo's own face (`detail` = 1), it changes the
smile or the age while the photo keeps its skin, hair and resolution; with detail = 0 the face
becomes G'(z') outright. The change is pasted back
into the photo with the same Poisson blend as an inpainted hole, over the part of the face the edit is about
(core.regions: the mouth and cheeks for a smile, the whole face for age), so a slider at 0 gives the photo back
unchanged and the rest of the face keeps its own pixels. A local edit first keeps the rest of G's face too (KeepRest),
so the region brings the attribute and not another person's light; mouth open then moves the jaw (core.jaw).

The Explore page and the command line call edit_face; core.project gives the z.

python -m core.edit PHOTO... --edit smile=2 age=-1 [--hold female] --out DIR
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from core.align import Alignment, FaceAligner, load_faces
from core.blend import blend_fill, colour_range, keep_colours
from core.cli import argument_parser
from core.face_filler import FaceFiller
from core.config import CompletionConfig
from core.directions import LABELS, LIMIT_REASON, Directions, load_directions
from core.jaw import JAW_DROP, JawDrop, drop_jaw
from core.masks import Mask, face_mask
from core.regions import edit_region, face_landmarks, is_local
from core.inpaint import paste_back, photo_fill
from core.images import save_png, to_uint8
from core.project import PROJECTION, project, psnr
from core.search import adam_step
from core.weights import WeightsError, load_model

EDIT_BLEND = CompletionConfig(guidance=1.0, colour_fit=False)
"""Plain Poisson cloning of the change: with no change, the face and the photo come back exactly."""
PIVOT_TUNING = CompletionConfig(tune_steps=50, tune_learning_rate=3e-4)
"""Fine-tuning of G on the projected face: 50 Adam steps at the completion's rate (25 left more of G's face)."""


@dataclass(frozen=True)
class KeepRest:
    """How a local edit keeps the rest of G's face: the edited z moves, never along the directions edited, until G's
    face outside the edit's region is the unedited one again (L1 distance, Adam). Three units along a direction is
    five standard deviations of z along it, someone else and lit otherwise; blended in over a region alone, that
    other light showed as a pale chin at mouth open -3 and pale lids at eyes closed +3."""

    steps: int = 40
    learning_rate: float = 0.05

    def __post_init__(self) -> None:
        if self.steps < 0 or not self.learning_rate > 0:
            raise ValueError("steps must be at least 0 and learning_rate positive")


KEEP_REST = KeepRest()


@tf.function(reduce_retracing=True)
def _rest_kept(generator, z, target, outside, basis, steps, learning_rate):
    """z after steps of Adam on ||outside * (G(z) - target)||_1, each step with its part in basis' span taken out."""
    m, v = tf.zeros_like(z), tf.zeros_like(z)
    for t in tf.range(1, steps + 1):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = tf.reduce_mean(tf.abs(outside * (generator(z, training=False) - target)))
        step, m, v = adam_step(tape.gradient(loss, z), m, v, tf.cast(t, tf.float32), learning_rate)
        z -= step - tf.matmul(tf.matmul(step, basis), basis, transpose_b=True)
    return z


def keep_rest(filler: FaceFiller, z: np.ndarray, z_edited: np.ndarray, along: np.ndarray, region: Mask,
              config: KeepRest = KEEP_REST) -> np.ndarray:
    """z_edited moved as config says, with its components along the edited directions (along: (k, z_dim)) unchanged,
    until G(z_edited) outside region (a mask whose fill is the region) draws G(z) again."""
    if not config.steps:
        return np.asarray(z_edited, np.float32)
    basis, _ = np.linalg.qr(np.asarray(along, np.float32).T)  # (z_dim, k), orthonormal
    target = filler.generator(np.asarray(z, np.float32)[None], training=False)
    kept = _rest_kept(filler.generator, tf.constant(np.asarray(z_edited, np.float32)[None]), target,
                      tf.constant(region.known[None, ..., None], tf.float32), tf.constant(basis, tf.float32),
                      tf.constant(config.steps), tf.constant(config.learning_rate, tf.float32))
    return kept.numpy()[0]


@dataclass
class ProjectedFace:
    """An aligned face, the z that G rebuilds it from, and the photo it came from (None for an aligned face)."""

    face: np.ndarray  # (S, S, 3) uint8
    z: np.ndarray  # (z_dim,)
    rebuilt: np.ndarray  # G(z), uint8
    psnr: float  # of G(z) against the face
    source: tuple[np.ndarray, Alignment] | None = None
    weights: list[np.ndarray] | None = None  # G fine-tuned to this face, as offsets (FaceFiller.tuned_weights); None: G
    landmarks: np.ndarray | None = None  # (478, 2) in the aligned face's pixels, for local edits (core.regions)


@dataclass
class EditedFace:
    face: np.ndarray  # the aligned face after the edit, uint8
    pasted: np.ndarray | None  # the photo with the edited face, uint8 (None without a photo)


def project_face(filler: FaceFiller, face: np.ndarray, source: tuple[np.ndarray, Alignment] | None = None,
                 config: CompletionConfig = PROJECTION, callback=None,
                 tuning: CompletionConfig | None = PIVOT_TUNING, aligner: FaceAligner | None = None) -> ProjectedFace:
    """Find the z of one aligned uint8 face (callback as in FaceFiller.complete), then tune a copy of G to it
    (tuning None: no tuning; rebuilt and psnr are then G's own). Its landmarks, so its edits can be local, come from
    the photo's alignment, or are found on the face with an aligner."""
    projection = project(filler, face[None], config, callback)
    z, rebuilt = projection.z[0], projection.rebuilt[0]
    weights = None
    if tuning is not None and tuning.tune_steps:
        weights = filler.tuned_weights(z, face, tuning)
        rebuilt = to_uint8(filler.generate_with(weights, z[None])[0])
    landmarks = source[1].mesh if source is not None else None
    if landmarks is None and aligner is not None:
        landmarks = face_landmarks(aligner, face)
    return ProjectedFace(face, z, rebuilt, float(psnr(rebuilt[None], face[None])[0]), source, weights, landmarks)


def generated_face(filler: FaceFiller, z: np.ndarray, aligner: FaceAligner | None = None) -> ProjectedFace:
    """G's own face at z, ready to edit like a projected photo (with an aligner, its landmarks too)."""
    face = to_uint8(filler.generator(np.asarray(z, np.float32)[None], training=False).numpy()[0])
    landmarks = None if aligner is None else face_landmarks(aligner, face)
    return ProjectedFace(face, np.asarray(z, np.float32), face, float("inf"), landmarks=landmarks)


def apply_edit(filler: FaceFiller, projected: ProjectedFace, z_edited: np.ndarray, detail: float = 1.0,
               config: CompletionConfig = EDIT_BLEND, region: Mask | None = None) -> EditedFace:
    """The projected face with G's change from z to z_edited, blended in the aligned frame and in the photo over
    region (a mask whose fill may change; None: the whole face)."""
    if not 0.0 <= detail <= 1.0:
        raise ValueError(f"detail must be in [0, 1], got {detail}")
    g = (filler.generate_with(projected.weights, np.stack([projected.z, z_edited])) + 1) * 127.5
    face = projected.face.astype(np.float32)
    change = g[1] - face + detail * (face - g[0])  # detail 1: face + G(z') - G(z); detail 0: G(z')
    mask = face_mask(filler.size) if region is None else region
    edited = blend_fill(projected.face, np.clip(face + change, 0, 255), mask.fill, config)
    edited = own_colours(edited, projected.face, face_mask(filler.size).fill)
    pasted = None
    if projected.source is not None:
        photo, alignment = projected.source
        pasted = paste_back(photo, alignment, change, mask, config, add_to_photo=True)
        pasted = own_colours(pasted, photo, photo_fill(photo.shape, alignment, face_mask(filler.size)))
    return EditedFace(edited, pasted)


def own_colours(edited: np.ndarray, before: np.ndarray, face: np.ndarray) -> np.ndarray:
    """An edited uint8 image with no colour that the face (face: where it is in before) did not have: magenta lips
    and cyan rims are brought back to the face's own colours (core.blend.keep_colours). Only pixels the edit changed
    are touched, so the rest of the photo, and a photo with nothing edited, come back exactly."""
    changed = (edited != before).any(axis=-1, keepdims=True)
    kept = keep_colours(edited.astype(np.float32), before, *colour_range(before, face))
    return np.where(changed, np.clip(np.round(kept), 0, 255), edited).astype(np.uint8)


def edit_face(filler: FaceFiller, directions: Directions, projected: ProjectedFace, amounts: Mapping[str, float],
              hold: Sequence[str] | None = None, detail: float = 1.0, local: bool = True,
              keep: KeepRest | None = KEEP_REST, jaw: JawDrop = JAW_DROP) -> EditedFace:
    """A projected face (or G's own, generated_face) edited by amounts along the directions, as the Explore page and
    core.edit's command line do. hold None: each direction holds what it is most tangled with (Directions.edit).
    local: only the part of the face the moved directions are about changes (core.regions), and G keeps the rest of
    its face as it was (keep; None: z moves along the directions alone), and mouth open moves the jaw
    (core.jaw)."""
    unknown = [name for name in amounts if name not in directions.names]
    if unknown:
        raise ValueError(f"No direction {', '.join(unknown)}; there are {', '.join(directions.names)}.")
    landmarks = projected.landmarks if local else None
    region = edit_region(landmarks, amounts, filler.size)
    z_edited = directions.edit(projected.z, amounts, hold)
    in_region = is_local(landmarks, amounts)  # the edit changes its region alone
    if keep is not None and in_region:
        along = np.stack(list(directions.edit_vectors(amounts, hold).values()))
        z_edited = keep_rest(filler, projected.z, z_edited, along, region, keep)
    edited = apply_edit(filler, projected, z_edited, detail, region=region)
    drop = jaw.drop(amounts, filler.size) if in_region else 0.0
    if not drop:
        return edited
    pasted = None if edited.pasted is None else drop_jaw(edited.pasted, landmarks, drop, projected.source[1].matrix, jaw)
    return EditedFace(drop_jaw(edited.face, landmarks, drop, config=jaw), pasted)


def amounts_argument(text: str) -> tuple[str, float]:
    """NAME=AMOUNT, as --edit takes it."""
    name, _, amount = text.partition("=")
    try:
        return name.strip(), float(amount)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=AMOUNT, e.g. smile=1.5") from None


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("Edit faces in photos along the model's measured directions, as the Explore page does.")
    parser.add_argument("images", nargs="+", type=Path, help="photos, or aligned faces of the model's size")
    parser.add_argument("--edit", nargs="+", type=amounts_argument, required=True, metavar="NAME=AMOUNT",
                        help=f"how far to move along each direction ({', '.join(LABELS)}), in the sliders' units")
    parser.add_argument("--hold", nargs="*", default=None, metavar="NAME",
                        help="directions every edit holds fixed; without it each direction holds the one it is most "
                             "tangled with (the model card's conditional edit), and --hold alone holds none")
    parser.add_argument("--whole-face", action="store_true",
                        help="let a smile, mouth, eyes or brows edit change the whole face, not only its own part")
    parser.add_argument("--detail", type=float, default=1.0,
                        help="1: add G's change to the photo's own face; 0: G's edited face outright")
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="model folder with directions.npz")
    parser.add_argument("--out", type=Path, default=Path("edits"), help="folder for the edited photos")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.weights)
        directions = load_directions(args.weights, model.config.z_dim)
        if directions is None:
            raise WeightsError(f"{args.weights} has no directions: compute them with `python -m core.directions`.")
        amounts = dict(args.edit)
        for name in [*amounts, *(args.hold or [])]:
            if name not in directions.names:
                raise ValueError(f"No direction {name!r}; there are {', '.join(directions.names)}.")
        for name, amount in amounts.items():
            if abs(amount) > directions.limit(name):
                raise ValueError(f"{name}={amount:g} is past its range, +-{directions.limit(name):g}: {LIMIT_REASON}.")
        if not 0 <= args.detail <= 1:
            raise ValueError(f"--detail must be from 0 to 1, got {args.detail}")
    except (ValueError, WeightsError) as err:
        parser.exit(2, f"error: {err}\n")
    faces, sources, errors = load_faces(args.images, model.config.image_size)
    for path, error in errors.items():
        print(f"skipped {path}: {error}")
    if not faces:
        parser.exit(1, "error: no usable face among the inputs\n")
    filler = FaceFiller(model)
    args.out.mkdir(parents=True, exist_ok=True)
    kept = [p for p in args.images if p not in errors]
    with FaceAligner(max_faces=1) as aligner:
        for path, face, source in zip(kept, faces, sources):
            projected = project_face(filler, face, source, aligner=aligner)
            edited = edit_face(filler, directions, projected, amounts, args.hold, args.detail,
                               local=not args.whole_face)
            out = args.out / f"{path.stem}_edited.png"
            save_png(out, edited.face if edited.pasted is None else edited.pasted)
            print(f"{path}: G tuned to the face {projected.psnr:.1f} dB -> {out}")


if __name__ == "__main__":
    main()
