"""Poisson blending (Pérez et al. 2003): the hole takes the generated image's gradients
and the known pixels' values at its border, so no seam shows.

Over the fill region F, with N(p) the 4-neighbours of p inside the image, solve

    |N(p)| f_p - sum_{q in N(p) & F} f_q = sum_{q in N(p) - F} y_q + s * sum_{q in N(p)} (g_p - g_q)

for every p in F: known pixels y are the fixed (Dirichlet) boundary, the image border is
free (Neumann), and s scales the generated gradients (s < 1 trusts G's detail less and the
smooth membrane from the known border more). Known pixels are never changed. A part of F
that touches no known pixel has no boundary to blend against and keeps the generated pixels.

The solve is a sparse LU (SciPy): 1k unknowns take a millisecond, a 512x512 hole about 2 s.
"""
from __future__ import annotations

import cv2
import numpy as np
import scipy.ndimage
import scipy.sparse
import scipy.sparse.linalg

from core.config import CompletionConfig
from core.images import to_uint8
from core.masks import Mask

# The four neighbours (dy, dx) of a pixel.
_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))
COLOUR_RING = 4  # known pixels within this many pixels of the hole fit the colour map


def neighbour_slices(shape: tuple[int, int], dy: int, dx: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Slices (here, there) such that a[there] is the neighbour at (dy, dx) of a[here]."""
    h, w = shape
    here = (slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx)))
    there = (slice(max(0, dy), h - max(0, -dy)), slice(max(0, dx), w - max(0, -dx)))
    return here, there


def blendable(fill: np.ndarray) -> np.ndarray:
    """The part of the fill region (bool, H x W) whose connected pieces touch a known pixel."""
    labels, _ = scipy.ndimage.label(fill)
    touching = np.unique(labels[scipy.ndimage.binary_dilation(~fill) & fill])
    return np.isin(labels, touching[touching > 0])


def poisson_blend(image: np.ndarray, generated: np.ndarray, fill: np.ndarray, guidance: float = 1.0) -> np.ndarray:
    """Blend generated into image over fill (H x W, True or 1 = fill); returns uint8 RGB.

    image is (H, W, 3) uint8 or float in [0, 255]; generated is (H, W, 3), or a stack of them (N, H, W, 3) blended
    into the same image and hole with one factorisation (the fills to choose from). The result has generated's
    shape and equals image bit for bit wherever fill is off.
    """
    if not 0.0 <= guidance <= 1.0:
        raise ValueError(f"guidance must be in [0, 1], got {guidance}")
    image, generated = np.asarray(image), np.asarray(generated, np.float64)
    fill = np.asarray(fill) > 0.5
    if image.shape != generated.shape[-3:] or generated.ndim not in (3, 4) or image.shape[:2] != fill.shape:
        raise ValueError(f"Shapes differ: image {image.shape}, generated {generated.shape}, fill {fill.shape}.")
    stack = generated.reshape(-1, *image.shape)
    out = np.repeat(np.array(image, dtype=np.uint8)[None], len(stack), axis=0)
    solve = blendable(fill)
    out[:, fill & ~solve] = np.clip(np.round(stack[:, fill & ~solve]), 0, 255)
    n = int(solve.sum())
    if n == 0:
        return out.reshape(generated.shape)

    index = np.full(fill.shape, -1, np.int64)
    index[solve] = np.arange(n)
    known = image.astype(np.float64)
    degree = np.zeros(fill.shape)
    rhs = np.zeros(stack.shape)
    rows, cols = [], []
    for dy, dx in _NEIGHBOURS:
        here, there = neighbour_slices(fill.shape, dy, dx)
        inside = solve[here]  # p in the solved set; its neighbour q = p + (dy, dx) is in the image
        degree[here] += inside
        rhs[(slice(None), *here)] += inside[..., None] * guidance * (stack[(slice(None), *here)] -
                                                                     stack[(slice(None), *there)])
        boundary = inside & ~fill[there]
        rhs[(slice(None), *here)] += boundary[..., None] * known[there]
        linked = inside & solve[there]
        rows.append(index[here][linked])
        cols.append(index[there][linked])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    matrix = scipy.sparse.csc_matrix(
        (np.concatenate([degree[solve], -np.ones(len(rows))]),
         (np.concatenate([np.arange(n), rows]), np.concatenate([np.arange(n), cols]))),
        shape=(n, n),
    )
    right = rhs[:, solve].transpose(1, 0, 2).reshape(n, -1)  # (n, N * 3): every fill's channels share the matrix
    values = scipy.sparse.linalg.splu(matrix).solve(right).reshape(n, len(stack), 3).transpose(1, 0, 2)
    out[:, solve] = np.clip(np.round(values), 0, 255)
    return out.reshape(generated.shape)


def match_colours(generated: np.ndarray, image: np.ndarray, fill: np.ndarray, ring: int = COLOUR_RING) -> np.ndarray:
    """generated mapped per channel by the affine a*g + b that best fits image on the known ring round the hole.

    G's colours drift from the photo's (lighting, white balance); the Poisson solve fixes the
    mean at the border but not the contrast inside. Gains are kept within [0.5, 2]. With too
    few known pixels nearby (< 16) the image is returned unchanged. Float in, float out.
    """
    fill = np.asarray(fill) > 0.5
    near = cv2.dilate(fill.astype(np.uint8), np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)) > 0
    ring_pixels = near & ~fill
    generated = np.asarray(generated, np.float32)
    if ring_pixels.sum() < 16:
        return generated
    g, y = generated[ring_pixels], np.asarray(image, np.float32)[ring_pixels]
    g_mean, y_mean = g.mean(axis=0), y.mean(axis=0)
    variance = ((g - g_mean) ** 2).mean(axis=0)
    covariance = ((g - g_mean) * (y - y_mean)).mean(axis=0)
    gain = np.clip(covariance / np.maximum(variance, 1e-6), 0.5, 2.0)
    return (generated - g_mean) * gain + y_mean


def blend_fill(image: np.ndarray, generated: np.ndarray, fill: np.ndarray, config: CompletionConfig) -> np.ndarray:
    """generated (uint8 or float in [0, 255]; one image or a stack of them) blended into image (uint8) over fill, as
    config says."""
    if config.colour_fit:
        generated = (match_colours(generated, image, fill) if np.ndim(generated) == 3 else
                     np.stack([match_colours(each, image, fill) for each in generated]))
    return poisson_blend(image, generated, fill, config.guidance)


def colour_range(image: np.ndarray, where: np.ndarray, margin: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """The range of an RGB uint8 image's colours (CIELAB a*, b*, as OpenCV scales them) over where: the 1st to 99th
    percentile, widened by margin."""
    chroma = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 1:][where].astype(np.float32)
    low, high = np.percentile(chroma, [1, 99], axis=0)
    return low - margin, high + margin


def keep_colours(image: np.ndarray, original: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """An edited RGB image (float in [0, 255]) with each pixel's colour (a*, b*) brought into [low, high] or as far
    as its original colour (uint8 RGB) went, its lightness kept: an edit may darken lips or redden cheeks, not paint
    them magenta, and a pixel it did not change keeps its colour."""
    lab = cv2.cvtColor(np.clip(image, 0, 255).astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    own = cv2.cvtColor(original, cv2.COLOR_RGB2LAB)[..., 1:].astype(np.float32)
    # float Lab has a* and b* as they are; uint8 Lab (colour_range, own) adds 128
    lab[..., 1:] = np.clip(lab[..., 1:], np.minimum(low, own) - 128, np.maximum(high, own) - 128)
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255


def within_photo_colours(drawn: np.ndarray, first: np.ndarray, face: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Fills drawn (N, H, W, 3, float in [0, 255]) for face's hole (fill, H x W) with each hole pixel's colour (a*,
    b*) brought within the colours of the face's known pixels round the hole (a tenth of its side wide), or as far
    as the first fill (uint8) went at that pixel (keep_colours): another fill may smile, not paint magenta lips.
    Pixels outside the hole, which the colour fit compares with the photo, are returned unchanged."""
    fill = np.asarray(fill) > 0.5
    side = 2 * max(1, fill.shape[0] // 10) + 1
    ring = (cv2.dilate(fill.astype(np.uint8), np.ones((side, side), np.uint8)) > 0) & ~fill
    if not ring.any():
        return np.asarray(drawn, np.float32)
    low, high = colour_range(face, ring)
    return np.stack([np.where(fill[..., None], keep_colours(each, first, low, high), each)
                     for each in np.asarray(drawn, np.float32)])


def blend_in(face: np.ndarray, generated: np.ndarray, mask: Mask, config: CompletionConfig) -> np.ndarray:
    """The aligned face (uint8) with mask's hole filled by generated (in [-1, 1]; one fill, or a stack of them for the
    same face and hole), Poisson-blended unless config.blend is off or the mask is a low-resolution one (which keeps
    no pixel as it was). A fill smaller than the face (a model smaller than the faces core.evaluate compares it on)
    is enlarged to it first."""
    face, generated = np.asarray(face), np.asarray(generated, np.float32)
    if generated.shape[-3:-1] == face.shape[:2]:
        drawn = to_uint8(generated)
    else:  # float in [0, 255], enlarged: blend_fill rounds once, after the solve
        def enlarge(fill: np.ndarray) -> np.ndarray:
            return cv2.resize((fill + 1) * 127.5, face.shape[1::-1], interpolation=cv2.INTER_CUBIC)
        drawn = enlarge(generated) if generated.ndim == 3 else np.stack([enlarge(fill) for fill in generated])
    if not (config.blend and mask.lowres_factor == 1):
        return np.where(mask.fill[..., None], np.clip(np.round(drawn), 0, 255).astype(np.uint8), face)
    return blend_fill(face, drawn, mask.fill, config)
