"""Editing a real face along attribute directions: align, project into z, move z, paste the change back.

After projection, a copy of G is fine-tuned to draw this very face at its z (pivotal tuning,
Roich et al. 2022): near z it still follows G's directions, so G'(z') is this person edited
rather than a stranger who shares the attribute. The edit is what that face gains between z
and the edited z: G'(z') - G'(z). Added to the photo's own face (`detail` = 1), it changes the
smile or the age while the photo keeps its skin, hair and resolution; with detail = 0 the face
becomes G'(z') outright. The change is pasted back
into the photo with the same Poisson blend as an inpainted hole, over the face (masks.face_mask),
so a slider at 0 gives the photo back unchanged.

The Explore page and the tests call these functions; core.project gives the z.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.align import Alignment
from core.blend import blend_fill
from core.completer import Completer
from core.config import CompletionConfig
from core.masks import face_mask
from core.pipeline import paste_back
from core.images import to_uint8
from core.project import PROJECTION, project, psnr

EDIT_BLEND = CompletionConfig(guidance=1.0, colour_fit=False)
"""Plain Poisson cloning of the change: with no change, the face and the photo come back exactly."""
PIVOT_TUNING = CompletionConfig(tune_steps=50, tune_learning_rate=3e-4)
"""Fine-tuning of G on the projected face: 50 Adam steps at the completion's rate (25 left more of G's face)."""


@dataclass
class ProjectedFace:
    """An aligned face, the z that G rebuilds it from, and the photo it came from (None for an aligned face)."""

    face: np.ndarray  # (S, S, 3) uint8
    z: np.ndarray  # (z_dim,)
    rebuilt: np.ndarray  # G(z), uint8
    psnr: float  # of G(z) against the face
    source: tuple[np.ndarray, Alignment] | None = None
    weights: list[np.ndarray] | None = None  # G fine-tuned to this face, as offsets (Completer.tuned_weights); None: G


@dataclass
class EditedFace:
    face: np.ndarray  # the aligned face after the edit, uint8
    pasted: np.ndarray | None  # the photo with the edited face, uint8 (None without a photo)


def project_face(completer: Completer, face: np.ndarray, source: tuple[np.ndarray, Alignment] | None = None,
                 config: CompletionConfig = PROJECTION, callback=None,
                 tuning: CompletionConfig | None = PIVOT_TUNING) -> ProjectedFace:
    """Find the z of one aligned uint8 face (callback as in Completer.complete), then tune a copy of G to it
    (tuning None: no tuning; rebuilt and psnr are then G's own)."""
    projection = project(completer, face[None], config, callback)
    z, rebuilt = projection.z[0], projection.rebuilt[0]
    weights = None
    if tuning is not None and tuning.tune_steps:
        weights = completer.tuned_weights(z, face, tuning)
        rebuilt = to_uint8(completer.generate_with(weights, z[None])[0])
    return ProjectedFace(face, z, rebuilt, float(psnr(rebuilt[None], face[None])[0]), source, weights)


def apply_edit(completer: Completer, projected: ProjectedFace, z_edited: np.ndarray, detail: float = 1.0,
               config: CompletionConfig = EDIT_BLEND) -> EditedFace:
    """The projected face with G's change from z to z_edited, blended in the aligned frame and in the photo."""
    if not 0.0 <= detail <= 1.0:
        raise ValueError(f"detail must be in [0, 1], got {detail}")
    g = (completer.generate_with(projected.weights, np.stack([projected.z, z_edited])) + 1) * 127.5
    face = projected.face.astype(np.float32)
    change = g[1] - face + detail * (face - g[0])  # detail 1: face + G(z') - G(z); detail 0: G(z')
    mask = face_mask(completer.size)
    edited = blend_fill(projected.face, np.clip(face + change, 0, 255), mask.fill, config)
    pasted = None
    if projected.source is not None:
        photo, alignment = projected.source
        pasted = paste_back(photo, alignment, change, mask, config, add_to_photo=True)
    return EditedFace(edited, pasted)
