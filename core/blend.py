"""Poisson blending of a generated fill into the known pixels (OpenCV seamlessClone)."""
from __future__ import annotations

import cv2
import numpy as np

_PAD = 8  # seamlessClone misbehaves when the mask touches the image border


def poisson_blend(image: np.ndarray, generated: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Blend generated (uint8 RGB) into image where known == 0.

    The hole takes the generated image's gradients and the known pixels'
    colours at its border; pixels more than one pixel away from the hole are
    returned unchanged. With nothing known (or nothing to fill), the
    generated (or original) image is returned.
    """
    fill = (known < 0.5).astype(np.uint8)
    if fill.all():
        return generated.copy()
    if not fill.any():
        return image.copy()
    fill = cv2.dilate(fill, np.ones((3, 3), np.uint8)) * 255
    pad = lambda a: cv2.copyMakeBorder(a, _PAD, _PAD, _PAD, _PAD, cv2.BORDER_REFLECT)
    # The hole's own pixels must never leak in (at the border they would through the padding).
    composite = np.where(known[..., None] > 0.5, image, generated)
    src, dst, mask = pad(generated), pad(composite), pad(fill)
    mask[:_PAD], mask[-_PAD:], mask[:, :_PAD], mask[:, -_PAD:] = 0, 0, 0, 0
    x, y, w, h = cv2.boundingRect(mask)
    blended = cv2.seamlessClone(src, dst, mask, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return blended[_PAD:-_PAD, _PAD:-_PAD]
