"""Synthetic image patterns the tests build photos and faces from."""
from __future__ import annotations

import numpy as np


def checkerboard(shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    """+-amplitude alternating pixel to pixel (float32, shape (..., H, W, C) or (H, W, C)): the pattern a stride-2
    transposed convolution leaves, at the Nyquist frequency both ways."""
    rows, cols = np.indices(shape[-3:-1])
    sign = (1 - 2 * ((rows + cols) % 2)).astype(np.float32)
    return amplitude * np.broadcast_to(sign[..., None], shape).astype(np.float32)
