"""Masks for completion: 1 = known pixel, 0 = pixel to fill. All (size, size) float32.

`lowres` is special: no pixel is known exactly, only an 8x-downsampled average
of the image; `Mask.lowres_factor` tells the contextual loss to compare
downsampled images.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PRESETS = ("center", "left", "strokes", "random", "grid", "lowres", "full")


class MaskError(ValueError):
    """A mask that cannot be used, with a message fit to show a user."""


@dataclass(frozen=True)
class Mask:
    known: np.ndarray  # (H, W) float32, 1 = known
    lowres_factor: int = 1  # >1: only an average over factor x factor blocks is known

    @property
    def fill(self) -> np.ndarray:
        """(H, W) bool, True where a pixel is to be filled (every pixel of a low-res mask)."""
        if self.lowres_factor > 1:
            return np.ones(self.known.shape, bool)
        return self.known < 0.5

    @property
    def fill_fraction(self) -> float:
        return float(self.fill.mean())


def center_mask(size: int, scale: float = 0.25) -> Mask:
    """A square hole in the middle; scale is its offset from each edge as a fraction of size."""
    known = np.ones((size, size), np.float32)
    lo, hi = int(size * scale), int(size * (1 - scale))
    known[lo:hi, lo:hi] = 0
    return Mask(known)


def left_mask(size: int) -> Mask:
    known = np.ones((size, size), np.float32)
    known[:, : size // 2] = 0
    return Mask(known)


def random_mask(size: int, fraction: float = 0.8, seed: int = 0) -> Mask:
    """Each pixel is unknown with probability `fraction`."""
    rng = np.random.default_rng(seed)
    return Mask((rng.random((size, size)) >= fraction).astype(np.float32))


def stroke_mask(size: int, seed: int = 0, coverage: tuple[float, float] = (0.15, 0.30)) -> Mask:
    """Free-hand brush strokes over the face, reproducible from seed, covering 15-30% of the image.

    Each stroke is a random walk of 4-8 points inside the middle 80% of the frame, drawn
    with a round brush 1/16 to 1/8 of the size wide, as a person scribbling over a face would.
    """
    rng = np.random.default_rng(seed)
    target = rng.uniform(*coverage)
    fill = np.zeros((size, size), np.uint8)
    lo, hi = 0.1 * size, 0.9 * size
    while fill.mean() < target:
        stroke = fill.copy()
        point = rng.uniform(lo, hi, 2)
        points = [point]
        for _ in range(rng.integers(4, 9)):
            angle = rng.uniform(0, 2 * np.pi)
            point = np.clip(point + rng.uniform(0.05, 0.2) * size * np.array([np.cos(angle), np.sin(angle)]), lo, hi)
            points.append(point)
        width = max(1, int(round(rng.uniform(size / 16, size / 8))))
        cv2.polylines(stroke, [np.round(np.array(points)).astype(np.int32)], False, 1, width, cv2.LINE_8)
        if stroke.mean() <= coverage[1]:  # else: too long a stroke for what is left; draw another
            fill = stroke
    return Mask((1 - fill).astype(np.float32))


def grid_mask(size: int, step: int = 4) -> Mask:
    """Only every step-th row and column is known (the seed's grid mask)."""
    known = np.zeros((size, size), np.float32)
    known[::step, :] = 1
    known[:, ::step] = 1
    return Mask(known)


def lowres_mask(size: int, factor: int = 8) -> Mask:
    """Super-resolution: only the factor x factor block averages are known."""
    if size % factor:
        raise MaskError(f"lowres factor {factor} does not divide image size {size}")
    return Mask(np.zeros((size, size), np.float32), lowres_factor=factor)


def face_mask(size: int) -> Mask:
    """The face of an aligned frame, brows to chin and cheek to cheek (an ellipse): what an edit may change."""
    known = np.ones((size, size), np.float32)
    centre, axes = (round(size * 0.5), round(size * 0.47)), (round(size * 0.4), round(size * 0.5))
    cv2.ellipse(known, centre, axes, 0, 0, 360, 0.0, -1)
    return Mask(known)


def full_mask(size: int) -> Mask:
    """Everything unknown: completion becomes generation."""
    return Mask(np.zeros((size, size), np.float32))


def preset_mask(name: str, size: int, seed: int = 0) -> Mask:
    makers = {
        "center": lambda: center_mask(size),
        "left": lambda: left_mask(size),
        "strokes": lambda: stroke_mask(size, seed),
        "random": lambda: random_mask(size, seed=seed),
        "grid": lambda: grid_mask(size),
        "lowres": lambda: lowres_mask(size),
        "full": lambda: full_mask(size),
    }
    if name not in makers:
        raise MaskError(f"Unknown mask {name!r}; choose one of {', '.join(PRESETS)} or a PNG file.")
    return makers[name]()


def mask_from_drawing(fill: np.ndarray, size: int) -> Mask:
    """A mask from a drawing of any size: fill is (H, W) bool/0-1 (True = fill).

    An RGBA canvas gives fill = alpha > 0; a grayscale PNG gives fill = value > 127.
    """
    fill = np.asarray(fill)
    if fill.ndim != 2 or min(fill.shape) < 1:
        raise MaskError(f"A drawn mask must be a 2-D array, got shape {fill.shape}.")
    if not np.isfinite(fill.astype(np.float32)).all():
        raise MaskError("The drawn mask holds NaN or infinite values.")
    small = cv2.resize(fill.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    known = (small < 0.25).astype(np.float32)  # a model pixel a quarter painted is filled: small dots count
    if known.min() == 1:
        raise MaskError("Nothing is drawn: mark the part of the face to fill.")
    return Mask(known)


def mask_from_canvas(rgba: np.ndarray, size: int) -> Mask:
    """A painted RGBA image (H, W, 4), such as a transparent PNG: alpha > 0 is to be filled."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise MaskError(f"Expected an RGBA canvas image, got shape {rgba.shape}.")
    return mask_from_drawing(rgba[..., 3] > 0, size)


def read_mask(path, size: int) -> Mask:
    """A mask file of any square size: painted strokes on a transparent PNG, or white = fill on black."""
    from core.images import read_image

    return mask_from_image(read_image(path, alpha=True, min_side=1), size)


def mask_from_image(image: np.ndarray, size: int) -> Mask:
    """A mask image: a transparent background with painted fill (alpha > 0), or white = fill.

    It covers the aligned face, so it must be square; any square size is scaled to the model's.
    """
    if image.shape[0] != image.shape[1]:
        raise MaskError(f"The mask is {image.shape[1]}x{image.shape[0]} pixels; it must be square, "
                        f"like the aligned face it covers ({size}x{size}).")
    if image.ndim == 3 and image.shape[2] == 4 and image[..., 3].min() < image[..., 3].max():
        return mask_from_canvas(image, size)
    gray = image if image.ndim == 2 else image[..., :3].mean(axis=2)
    return mask_from_drawing(gray > 127, size)


def masked_preview(image: np.ndarray, mask: Mask) -> np.ndarray:
    """What the optimiser sees, for display: known pixels, grey holes (or the low-res image)."""
    if mask.lowres_factor > 1:
        f, size = mask.lowres_factor, image.shape[0]
        small = cv2.resize(image, (size // f, size // f), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (size, size), interpolation=cv2.INTER_NEAREST)
    return np.where(mask.fill[..., None], 128, image).astype(np.uint8)
