"""The photo's own grain in a filled hole.

G draws its face at the model's size; in a larger photo the hole holds that face enlarged, smooth next to the
photo's skin texture, film grain and JPEG noise. The photo's high band (photo minus its Gaussian blur) round the
hole is a micro-texture, which its power spectrum describes (Galerne, Gousseau and Morel 2011): convolving it with
white noise (asymptotic discrete spot noise) gives new grain of the same spectrum and colour correlation. It is
added to the hole only for the energy the fill lacks, so a fill as detailed as the photo gets none.
"""
from __future__ import annotations

import cv2
import numpy as np

SIGMA = 1.0  # px at the photo's resolution: the band that reads as grain (and that detail_ratio measures)
MARGIN = 2  # px: known pixels this close to the hole are not sampled (the blend's border lies there)


def high_band(image: np.ndarray) -> np.ndarray:
    """image minus its Gaussian blur (sigma SIGMA), float32 per channel."""
    image = np.asarray(image, np.float32)
    return image - cv2.GaussianBlur(image, (0, 0), SIGMA)


def detail_ratio(result: np.ndarray, truth: np.ndarray, fill: np.ndarray) -> float:
    """Energy of result's high band inside the hole over truth's there: 1.0 = as detailed as the truth."""
    fill = np.asarray(fill, bool)
    ours, theirs = (float((high_band(image)[fill] ** 2).mean()) for image in (result, truth))
    return ours / theirs if theirs > 0 else float("nan")


def spot_noise(band: np.ndarray, known: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """New grain of shape with the spectrum of band's known pixels: their (zero-mean) texture convolved with
    white noise, by FFT; each channel with the same noise, so colours stay correlated as in the photo."""
    texture = np.where(known[..., None], band, 0.0)
    texture[known] -= texture[known].mean(axis=0)
    h, w = max(shape[0], band.shape[0]), max(shape[1], band.shape[1])
    noise = np.fft.rfft2(rng.standard_normal((h, w)))
    spectrum = np.fft.rfft2(texture, s=(h, w), axes=(0, 1))
    grain = np.fft.irfft2(spectrum * noise[..., None], s=(h, w), axes=(0, 1))[: shape[0], : shape[1]]
    return grain / np.sqrt(max(int(known.sum()), 1))


def ring(hole: np.ndarray, width: int) -> np.ndarray:
    """Known pixels from MARGIN to MARGIN + width px from the hole."""
    near = cv2.dilate(hole.astype(np.uint8), np.ones((2 * (MARGIN + width) + 1,) * 2, np.uint8)).astype(bool)
    border = cv2.dilate(hole.astype(np.uint8), np.ones((2 * MARGIN + 1,) * 2, np.uint8)).astype(bool)
    return near & ~border


def grain_energy(band: np.ndarray) -> np.ndarray:
    """Per channel, the energy of the grain in band's pixels (K x 3), robust to the few strong edges among them:
    the median of the squares over the median's share for Gaussian noise (0.455)."""
    return np.median(band**2, axis=0) / 0.455


def add_grain(photo: np.ndarray, filled: np.ndarray, hole: np.ndarray, seed: int = 0) -> np.ndarray:
    """filled (float, a window of the photo whose hole pixels were filled) with grain added to its hole pixels:
    spot noise from the photo's known pixels in a ring round the hole, scaled per channel to the grain energy
    the fill lacks there."""
    hole = np.asarray(hole, bool)
    if not hole.any():
        return filled
    rows, cols = np.where(hole)
    known = ring(hole, max(4, min(np.ptp(rows), np.ptp(cols)) // 4))
    if known.sum() < 64:
        return filled
    band = high_band(photo)
    wanted = grain_energy(band[known])  # per channel: the photo's grain round the hole
    present = grain_energy(high_band(filled)[hole])  # the fill's own
    grain = spot_noise(band, known, hole.shape, np.random.default_rng(seed))
    scale = np.sqrt(np.maximum(wanted - present, 0.0) / np.maximum(grain_energy(high_band(grain)[hole]), 1e-12))
    out = np.asarray(filled, np.float32).copy()
    out[hole] += grain[hole] * scale
    return out
