"""The photo's own fine detail in a filled hole.

G draws its face at the model's size; pasted into a larger photo, the hole is smooth next to the photo's skin
texture, grain and crisp edges, and the fine detail G does draw is partly wrong (on lfw-dev, blurring it raises the
centre hole's PSNR and lowers the strokes'). So the hole gets the photo's own finest band, example-based (Freeman,
Jones and Pasztor 2002; Hertzmann et al.'s image analogies 2001): each hole pixel takes the fine band of a known
pixel whose blurred neighbourhood looks like the fill's blurred neighbourhood there, in place of half of the fill's
own; next to the known pixels, where the blend pins the fill to the photo and its fine band is right, the fill keeps
its own band and gets less of the copied one. A soft edge in the fill gets the fine band of an edge of like contrast
and direction in the photo, smooth skin the photo's grain, so the detail follows the fill's structure rather than
lying over it as noise. Only the filled photo is read, never the pixels the hole replaced, so nothing the user
removed comes back.
"""
from __future__ import annotations

import cv2
import numpy as np

SIGMA = 1.0  # px at the photo's resolution: the band that reads as grain, and that detail_ratio measures
BAND = 1.5  # px: the fill's band below this Gaussian blur is replaced by the photo's
PATCH = 5  # px: the side of the neighbourhoods compared
NEAR = 5  # px: known pixels this close to the hole are not copied (their band would hold some of the fill)
FEATURES = 16  # principal components of a neighbourhood kept for matching
# Weight of a neighbourhood's mean colour in a match (its shape's pixels weigh 1 each): skin copies from skin rather
# than from hair or the backdrop, while shape still decides (at PATCH, the full weight, hair's specks landed on skin).
COLOUR = 2.0
# A pixel copies one of the examples within this factor of the nearest's distance, at random: an edge has one close
# match, smooth skin many, which would otherwise all copy the same pixel (a blotch, not grain).
TOLERANCE = 1.5
MAX_SOURCES = 3_000  # known pixels sampled as examples, at most (time grows with examples x matches; 6,000 was no better)
MAX_MATCHES = 4_000  # pixels matched per hole, at most: a larger hole copies blocks of the band
# Share of the fill's own fine band kept inside the hole, where G's fine detail is partly wrong (on lfw-dev, its
# least-squares weight on the truth is 0.3-0.5 from 2 to 5 px in, below 0 in a large hole's middle).
OWN_BAND = 0.5
# At the hole's border (1 px in) the blend pins the fill to the photo, and its fine band is right (weight 1.2-1.3 on
# lfw-dev): there the fill keeps BORDER_OWN of its own band with BORDER_COPY of the copied one, ramping to OWN_BAND
# and the whole copied band at RAMP px in. On lfw-dev's strokes (half their pixels are within 2 px of the border)
# this nearly halved what the detail costs in PSNR (scripts/detail_tradeoff.py).
BORDER_OWN = 1.25
BORDER_COPY = 0.5
RAMP = 3.0
# A copied value is bounded by SPECK of the photo's grain sigmas plus EDGE times the neighbourhood's contrast: a lone
# highlight or a textured edge (hair against skin) among the examples is not copied onto smooth skin or a soft edge.
SPECK = 3.0
EDGE = 0.5


def high_band(image: np.ndarray) -> np.ndarray:
    """image minus its Gaussian blur (sigma SIGMA), float32 per channel."""
    image = np.asarray(image, np.float32)
    return image - cv2.GaussianBlur(image, (0, 0), SIGMA)


def without_checkerboard(image: np.ndarray) -> np.ndarray:
    """image filtered by a separable [1, 2, 1] / 4 with mirrored edges (float32): zero at the Nyquist frequency, where
    a stride-2 transposed convolution leaves its checkerboard (core.networks.LowPass is the same filter inside G).
    Measured on both sides, the detail a model draws in its own frame then counts texture and edges, not the pattern:
    G's samples hold 4-11x real faces' power at the Nyquist peaks, which detail_ratio alone scores as detail."""
    kernel = np.array([0.25, 0.5, 0.25], np.float32)
    return cv2.sepFilter2D(np.asarray(image, np.float32), -1, kernel, kernel, borderType=cv2.BORDER_REFLECT_101)


def detail_energy(image: np.ndarray, fill: np.ndarray) -> float:
    """Mean energy of image's high band inside the hole (fill, H x W): how much fine detail it holds there."""
    return float((high_band(image)[np.asarray(fill, bool)] ** 2).mean())


def detail_ratio(result: np.ndarray, truth: np.ndarray, fill: np.ndarray) -> float:
    """Energy of result's high band inside the hole over truth's there: 1.0 = as detailed as the truth."""
    ours, theirs = detail_energy(result, fill), detail_energy(truth, fill)
    return ours / theirs if theirs > 0 else float("nan")


def detail_in_place(result: np.ndarray, truth: np.ndarray, fill: np.ndarray) -> float:
    """The share of truth's high band that result draws where truth has it, inside the hole: the projection of
    result's band on truth's (1.0: all of it). Noise or texture independent of the truth adds nothing here, however
    much it adds to detail_ratio."""
    fill = np.asarray(fill, bool)
    ours, theirs = (high_band(image)[fill].ravel().astype(np.float64) for image in (result, truth))
    energy = float(theirs @ theirs)
    return float(ours @ theirs) / energy if energy > 0 else float("nan")


def neighbourhoods(image: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The PATCH x PATCH neighbourhoods of image's pixels (flat indices) as rows of features: each channel less its
    mean (shape and contrast), then the means times COLOUR; and each one's contrast per channel (RMS of the shape)."""
    r = PATCH // 2
    padded = cv2.copyMakeBorder(image, r, r, r, r, cv2.BORDER_REFLECT)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (PATCH, PATCH), axis=(0, 1))  # H W C P P
    windows = windows[np.unravel_index(pixels, image.shape[:2])].reshape(len(pixels), image.shape[2], -1)
    mean = windows.mean(-1, keepdims=True)
    shape = windows - mean
    features = np.concatenate([shape.reshape(len(pixels), -1), COLOUR * mean[..., 0]], -1)
    return features, np.sqrt((shape**2).mean(-1))


def near_match(queries: np.ndarray, examples: np.ndarray, rng: np.random.Generator, chunk: int = 128) -> np.ndarray:
    """For each row of queries, the index of a row of examples at random among those within TOLERANCE of the
    nearest's (Euclidean) distance."""
    half_norms = (examples**2).sum(1) / 2
    picks = []
    for i in range(0, len(queries), chunk):
        block = queries[i : i + chunk]
        half_own = (block**2).sum(1) / 2
        # q.e - |e|^2 / 2 = (|q|^2 - squared distance) / 2: the query's norm is then added once per row, not per pair.
        closeness = block @ examples.T
        closeness -= half_norms
        half_nearest = np.maximum(half_own - closeness.max(1), 0.0)
        close = closeness >= (half_own - TOLERANCE**2 * half_nearest)[:, None]
        keys = np.frombuffer(rng.bytes(2 * closeness.size), np.uint16).reshape(closeness.shape) | 1  # random, never 0
        picks.append((keys * close).argmax(1))
    return np.concatenate(picks)


def add_photo_detail(filled: np.ndarray, hole: np.ndarray, seed: int = 0) -> np.ndarray:
    """filled (float H x W x 3, a window of the photo with its hole filled) with the photo's own band finer than
    BAND in the hole, copied from the known pixels whose blurred neighbourhoods match the fill's, and OWN_BAND of
    the fill's own; at the hole's border BORDER_COPY of the copied band and BORDER_OWN of its own, ramping over RAMP px.

    A hole of more than MAX_MATCHES pixels is matched on a grid and copies square blocks of the band. seed picks
    the sampled examples and the choice among the near matches."""
    hole = np.asarray(hole, bool)
    filled = np.asarray(filled, np.float32)
    h, w = hole.shape
    step = max(1, int(np.ceil(np.sqrt(hole.sum() / MAX_MATCHES))))
    near = cv2.dilate(hole.astype(np.uint8), np.ones((2 * (NEAR + step // 2) + 1,) * 2, np.uint8)).astype(bool)
    sources = np.flatnonzero(~near)
    if not hole.any() or len(sources) < 64:
        return filled
    rng = np.random.default_rng(seed)
    if len(sources) > MAX_SOURCES:
        sources = np.sort(rng.choice(sources, MAX_SOURCES, replace=False))
    smooth = cv2.GaussianBlur(filled, (0, 0), BAND)
    band = filled - smooth
    # Each hole pixel belongs to the block (step x step) round its anchor; the anchors are matched.
    rows, cols = np.nonzero(hole)
    anchor_rows = np.minimum(rows // step * step + step // 2, h - 1)
    anchor_cols = np.minimum(cols // step * step + step // 2, w - 1)
    anchors, which = np.unique(anchor_rows * w + anchor_cols, return_inverse=True)
    examples, _ = neighbourhoods(smooth, sources)
    queries, contrast = neighbourhoods(smooth, anchors)
    mean = examples.mean(0)
    centred = examples - mean
    axes = np.linalg.eigh(centred.T @ centred)[1][:, ::-1][:, :FEATURES]  # the principal components
    match = sources[near_match((queries - mean) @ axes, centred @ axes, rng)]
    # Copy from the same place relative to the matched pixel as the hole pixel has to its anchor.
    source_rows = np.clip(match[which] // w + rows - anchor_rows, 0, h - 1)
    source_cols = np.clip(match[which] % w + cols - anchor_cols, 0, w - 1)
    copied = band[source_rows, source_cols]
    # per channel, robust to the photo's edges
    grain = np.sqrt(np.median(band.reshape(-1, 3)[sources] ** 2, axis=0) / 0.455)
    limit = SPECK * grain + EDGE * contrast[which]
    # 0 on the hole's outermost pixels, 1 from RAMP px in
    inward = np.clip((cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 5)[hole, None] - 1) / (RAMP - 1), 0, 1)
    own = BORDER_OWN + (OWN_BAND - BORDER_OWN) * inward
    copy = BORDER_COPY + (1 - BORDER_COPY) * inward
    out = filled.copy()
    out[hole] = smooth[hole] + own * band[hole] + copy * np.clip(copied, -limit, limit)
    return out
