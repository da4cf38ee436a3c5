"""Where an edit may change a face: the part of an aligned face each direction is about, found from its landmarks.

Smile changes the mouth and cheeks, mouth open the mouth and chin, eyes closed the eyes, brows raised the brows and
the forehead above them. Head turn, age and gender change the whole face (masks.face_mask). An edit blends G's change
in over its region only (core.edit), so the rest of the face keeps its own pixels.
"""
from __future__ import annotations

from typing import Mapping

import cv2
import numpy as np

from core.align import FaceAligner
from core.masks import Mask, face_mask

DETECTED_SIZE = 128  # the side a face's landmarks are found at (face_landmarks)

# MediaPipe face mesh points (models/face_landmarker.task's 478), by the part of the face they outline.
_LIPS = (0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269, 270,
         291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415)
_CHEEKS = (36, 50, 101, 129, 205, 266, 280, 330, 358, 425)
_CHIN = (32, 140, 148, 149, 152, 170, 171, 175, 176, 199, 200, 208, 262, 369, 377, 378, 395, 396, 400, 428)
_RIGHT_EYE = (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246)
_LEFT_EYE = (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466)
_FACE_OVAL = (10, 21, 54, 58, 67, 93, 103, 109, 127, 132, 136, 148, 149, 150, 152, 162, 172, 176, 234, 251, 284, 288,
              297, 323, 332, 338, 356, 361, 365, 377, 378, 379, 389, 397, 400, 454)
_BROWS = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336)

# Each local direction's region: groups of points, each group's convex hull grown by a share of its width (room for
# what moves: lip corners spread in a smile, lids and lashes round an eye); up: the hull reaches the frame's top.
_Part = tuple[tuple[int, ...], float, bool]
LOCAL_PARTS: dict[str, tuple[_Part, ...]] = {
    "smile": ((_LIPS + _CHEEKS, 0.05, False),),
    "mouth_open": ((_LIPS + _CHIN, 0.08, False),),
    "eyes_closed": ((_RIGHT_EYE, 0.25, False), (_LEFT_EYE, 0.25, False)),
    "brows_raised": ((_BROWS + (159, 386), 0.05, True),),
}


def face_landmarks(aligner: FaceAligner, face: np.ndarray) -> np.ndarray | None:
    """The 478 landmarks of an aligned face (uint8, S x S x 3) in its own pixels, or None where none is found. A face
    under DETECTED_SIZE px is enlarged to it first: the landmark model finds no face in a small one."""
    scale = max(1.0, DETECTED_SIZE / face.shape[0])
    found = aligner.landmarks(cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
                              if scale > 1 else face)
    return found[0] / scale if found else None


def _hull(points: np.ndarray, grow: float, up: bool, size: int) -> np.ndarray:
    """(size, size) bool: the convex hull of points, each side moved out by grow times the points' width, reaching
    the frame's top when up."""
    low, high = points.min(axis=0), points.max(axis=0)
    centre, half = (low + high) / 2, np.maximum((high - low) / 2, 1e-6)
    grown = centre + (points - centre) * (1 + grow * (high[0] - low[0]) / half)
    if up:
        grown = np.vstack([grown, grown * [1, 0]])  # the same points at the frame's top
    region = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(region, cv2.convexHull(np.round(grown).astype(np.int32)), 1)
    return region.astype(bool)


def moved(amounts: Mapping[str, float]) -> list[str]:
    """The directions an edit by amounts moves (those whose amount is not 0)."""
    return [name for name, amount in amounts.items() if amount]


def is_local(landmarks: np.ndarray | None, amounts: Mapping[str, float]) -> bool:
    """Whether an edit by amounts changes only part of the face: something moves, every direction moved has a region
    (LOCAL_PARTS), and the landmarks that find it are known."""
    names = moved(amounts)
    return landmarks is not None and bool(names) and all(name in LOCAL_PARTS for name in names)


def edit_region(landmarks: np.ndarray | None, amounts: Mapping[str, float], size: int) -> Mask:
    """The part of an aligned face (size px) that an edit by amounts may change: the union of its directions' regions,
    or the whole face (face_mask) where the edit is not local (is_local). A mask's fill is the region."""
    if not is_local(landmarks, amounts):
        return face_mask(size)
    region = np.zeros((size, size), bool)
    for name in moved(amounts):
        for points, grow, up in LOCAL_PARTS[name]:
            region |= _hull(landmarks[list(points)], grow, up, size)
    region &= _hull(landmarks[list(_FACE_OVAL)], 0.0, False, size)  # never past the face's outline: jaw, neck, collar
    return Mask(np.where(region, 0.0, 1.0).astype(np.float32))
