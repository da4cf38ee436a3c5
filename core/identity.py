"""Is an edited face still the same person, and did the edit bring colours the photo never had?

Identity is read by dlib's ResNet face embedding (the face_recognition_models package), a meter no FaceFill network
was trained against: it tells LFW's pairs apart 99.38% of the time, and two faces closer than SAME_PERSON are the
same person. It is a development dependency (requirements-dev.txt); the app never loads it.
"""
from __future__ import annotations

import cv2
import numpy as np

from core.blend import colour_range

SAME_PERSON = 0.6  # dlib's threshold on the embeddings' Euclidean distance


class IdentityMeter:
    """Face embeddings of photos, each read where the unedited photo's face was found, so an edit that the detector
    would miss is still compared."""

    def __init__(self):
        try:
            import dlib
            import face_recognition_models as models
        except ImportError as err:
            raise RuntimeError("The identity meter needs dlib and face_recognition_models: "
                               "pip install -r requirements-dev.txt") from err
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def face_box(self, image: np.ndarray):
        """The largest face's box in an RGB uint8 image (dlib.rectangle), or None."""
        boxes = self._detector(np.ascontiguousarray(image), 1)
        return max(boxes, key=lambda b: b.area()) if len(boxes) else None

    def embedding(self, image: np.ndarray, box) -> np.ndarray:
        """The 128-D embedding of the face in box."""
        image = np.ascontiguousarray(image)
        return np.array(self._net.compute_face_descriptor(image, self._shape(image, box)))

    def distances(self, original: np.ndarray, edited: list[np.ndarray]) -> np.ndarray:
        """Embedding distances from the original photo's face to each edited one's (NaN: no face in the original)."""
        box = self.face_box(original)
        if box is None:
            return np.full(len(edited), np.nan)
        own = self.embedding(original, box)
        return np.array([np.linalg.norm(self.embedding(image, box) - own) for image in edited])


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(H, W) bool: where an edit changed a pixel by more than 8 grey levels in some channel (what the edit meters count)."""
    return np.abs(after.astype(int) - before).max(axis=-1) > 8


def new_colour_share(before: np.ndarray, after: np.ndarray, face: np.ndarray) -> float:
    """The share of the pixels an edit changed (by more than 8 grey levels) whose colour lies outside the face's own
    (core.blend.colour_range over face): magenta lips, cyan rims round the eyes."""
    changed = changed_pixels(before, after)
    if not changed.any():
        return 0.0
    low, high = colour_range(before, face)
    chroma = cv2.cvtColor(after, cv2.COLOR_RGB2LAB)[..., 1:].astype(np.float32)
    outside = ((chroma < low) | (chroma > high)).any(axis=-1)
    return float(outside[changed].mean())


def lightness_shift(before: np.ndarray, after: np.ndarray) -> float:
    """How much an edit lightened (+) or darkened (-) what it changed: the median change of CIE L* (0-100) over the
    pixels it changed by more than 8 grey levels (0 where none). A pale chin or bleached brows read high; an edit
    that moves a feature lightens where it was and darkens where it goes, and reads near 0."""
    changed = changed_pixels(before, after)
    if not changed.any():
        return 0.0
    lightness = [cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0][changed].astype(np.float32) * 100 / 255
                 for image in (before, after)]
    return float(np.median(lightness[1] - lightness[0]))
