"""A hole drawn on the photo itself, mapped into the model's aligned frame.

The Inpaint page shows the photo zoomed to the chosen face (a `PhotoView`) with the outline of the
aligned frame, the part of the photo the model can fill. What the user paints there becomes a
`PhotoHole`: the mask in the model's frame (a model pixel a quarter painted is filled, as for a
drawing on the aligned face), the photo's own pixels to replace (only what was painted, at the
photo's resolution, so a thin stroke stays thin), and what was painted outside the frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.align import Alignment
from core.masks import Mask, MaskError

MAX_SUPERSAMPLE = 8  # photo pixels per model pixel sampled when mapping a drawing into the frame, at most


@dataclass(frozen=True)
class PhotoView:
    """The photo pixels [top:top + height, left:left + width] shown to draw on, `width` px wide on screen
    as `shown_width`."""

    left: int
    top: int
    width: int
    height: int
    shown_width: int

    @property
    def shown_height(self) -> int:
        return max(1, round(self.height * self.shown_width / self.width))

    @property
    def to_photo(self) -> np.ndarray:
        """The 2x3 affine map from the shown view's pixels to the photo's."""
        scale = self.width / self.shown_width
        return np.array([[scale, 0, self.left], [0, scale, self.top]], np.float64)


def frame_corners(alignment: Alignment, size: int) -> np.ndarray:
    """The aligned frame's four corners (clockwise from top left) in photo pixels."""
    inverse = cv2.invertAffineTransform(alignment.matrix)
    corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float64)
    return corners @ inverse[:, :2].T + inverse[:, 2]


def face_view(photo_shape: tuple[int, ...], alignment: Alignment, size: int, shown_width: int,
              max_shown_height: int | None = None, margin: float = 0.2) -> PhotoView:
    """The view of the photo round the aligned frame, margin of its side wider on each side, clipped to the photo,
    shown shown_width px wide (narrower where it would be taller than max_shown_height)."""
    h, w = photo_shape[:2]
    corners = frame_corners(alignment, size)
    low, high = corners.min(axis=0), corners.max(axis=0)
    pad = margin * float((high - low).max())
    left, top = (max(0, int(np.floor(v - pad))) for v in low)
    right, bottom = min(w, int(np.ceil(high[0] + pad))), min(h, int(np.ceil(high[1] + pad)))
    if right <= left or bottom <= top:
        raise MaskError("The face's frame lies outside the photo.")
    width, height = right - left, bottom - top
    if max_shown_height is not None and shown_width * height > max_shown_height * width:
        shown_width = max(1, max_shown_height * width // height)
    return PhotoView(left, top, width, height, shown_width)


def zoomed(photo: np.ndarray, view: PhotoView) -> np.ndarray:
    """The photo's pixels in view, resized to its shown size (uint8 RGB)."""
    crop = photo[view.top : view.top + view.height, view.left : view.left + view.width]
    return cv2.resize(crop, (view.shown_width, view.shown_height),
                      interpolation=cv2.INTER_AREA if view.shown_width < view.width else cv2.INTER_CUBIC)


def view_image(photo: np.ndarray, view: PhotoView, alignment: Alignment, size: int) -> np.ndarray:
    """The view as shown (uint8 RGB, shown_width wide), with the aligned frame outlined: the model fills only inside."""
    shown = zoomed(photo, view)
    to_shown = cv2.invertAffineTransform(view.to_photo)
    corners = frame_corners(alignment, size) @ to_shown[:, :2].T + to_shown[:, 2]
    outline = np.round(corners).astype(np.int32)
    cv2.polylines(shown, [outline], True, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.polylines(shown, [outline], True, (255, 214, 0), 1, cv2.LINE_8)
    return shown


@dataclass(frozen=True)
class PhotoHole:
    """A hole drawn on the photo: mask in the model's frame; photo_fill the photo pixels to replace (H x W bool);
    outside the painted pixels of the drawing (its size, bool) that the model cannot fill, outside_fraction
    their share of all painted pixels."""

    mask: Mask
    photo_fill: np.ndarray
    outside: np.ndarray
    outside_fraction: float


def hole_from_drawing(painted: np.ndarray, view: PhotoView, photo_shape: tuple[int, ...], alignment: Alignment,
                      size: int) -> PhotoHole:
    """The hole a user painted on the view (an H x W array covering the view, > 0 = painted; a canvas may be drawn
    at the screen's pixel ratio). Raises MaskError when nothing is painted inside the frame."""
    painted = np.asarray(painted)
    if painted.ndim != 2 or min(painted.shape) < 1:
        raise MaskError(f"A drawn mask must be a 2-D array, got shape {painted.shape}.")
    painted = painted > 0
    if not painted.any():
        raise MaskError("Nothing is drawn: paint over the part of the face to fill.")
    h, w = photo_shape[:2]
    # The painting at the photo's resolution, inside the view's rectangle.
    in_view = cv2.resize(painted.astype(np.float32), (view.width, view.height), interpolation=cv2.INTER_LINEAR) > 0.5
    drawn = np.zeros((h, w), bool)
    drawn[view.top : view.top + view.height, view.left : view.left + view.width] = in_view
    inverse = cv2.invertAffineTransform(alignment.matrix)
    frame = cv2.warpAffine(np.ones((size, size), np.float32), inverse, (w, h), flags=cv2.INTER_LINEAR) > 0.5
    photo_fill = drawn & frame
    outside_view = in_view & ~frame[view.top : view.top + view.height, view.left : view.left + view.width]
    outside = cv2.resize(outside_view.astype(np.uint8), painted.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    if not photo_fill.any():
        raise MaskError("Everything drawn is outside the face's frame (the yellow outline): "
                        "the model can fill only inside it.")
    # Into the model's frame, sampling at least as finely as the photo, then averaged down to model pixels.
    factor = int(np.clip(np.ceil(alignment.photo_per_model), 1, MAX_SUPERSAMPLE))
    fine = cv2.warpAffine(photo_fill.astype(np.float32), alignment.matrix * factor, (size * factor, size * factor),
                          flags=cv2.INTER_LINEAR)
    share = cv2.resize(fine, (size, size), interpolation=cv2.INTER_AREA)
    known = (share < 0.25).astype(np.float32)  # as mask_from_drawing: a model pixel a quarter painted is filled
    if known.min() == 1:
        raise MaskError("What is drawn inside the face's frame is too small to fill: paint a little more.")
    return PhotoHole(Mask(known), photo_fill, outside, float(outside.sum() / painted.sum()))


def outside_overlay(shown: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """The shown view with what was painted outside the frame in red."""
    outside = cv2.resize(outside.astype(np.uint8), shown.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    out = shown.copy()
    out[outside] = (0.4 * out[outside] + 0.6 * np.array([230, 30, 30])).astype(np.uint8)
    return out
