"""Mouth open drops the jaw: the lower lip and chin moved down by a warp of the face's own pixels.

The alignment pins the eyes and the lower lip (core.align.TEMPLATE), so in G's frame a mouth that opens is mostly a
face that grows smaller above the lip (weights/MODEL_CARD.md, "Slider ranges"). Blended in over the lips and chin, G's
change parts the lips and shows teeth but leaves the chin where it was, and MediaPipe's jawOpen, like a person, barely
sees a mouth open. So after G's change, a mouth-open edit moves the lower lip and the chin down, in the aligned
frame's vertical, by JawDrop.per_unit of the frame for each unit of the slider: the lower half of the opening
between the lips stretches, the chin slides over the neck, and the cheeks and the upper lip stay where they were. A
closing mouth raises the jaw, by at most CLOSABLE of the opening it has (a closed one stays closed). It is a warp, so
it brings no pixel the face did not have.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import cv2
import numpy as np

UPPER_LIP, LOWER_LIP, LIP_TOP, LIP_BOTTOM, CHIN = 13, 14, 0, 17, 152  # MediaPipe mesh points (inner lips, outer, chin)
JAW_ANGLES = (172, 397)
CLOSABLE = 0.6  # the share of an open mouth's opening that closing may take (more would fold the lips over)


@dataclass(frozen=True)
class JawDrop:
    """How far a mouth-open edit drops the jaw (raises it, closing): per_unit of the aligned frame's side for each
    unit of the slider (0: no warp); the band that stretches is at least opening times the lips' height, so a closed
    mouth's lips part smoothly."""

    per_unit: float = 0.02
    opening: float = 0.25

    def __post_init__(self) -> None:
        if self.per_unit < 0 or not 0 < self.opening <= 1:
            raise ValueError("per_unit must be at least 0 and opening in (0, 1]")

    def drop(self, amounts: Mapping[str, float], size: int) -> float:
        """Aligned pixels the chin moves down for an edit by amounts (up where the mouth closes)."""
        return self.per_unit * amounts.get("mouth_open", 0.0) * size


JAW_DROP = JawDrop()


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


class _Field:
    """How far down each point of the aligned face moves: 0 above the middle of the mouth's opening (the upper teeth
    stay with the skull), rising across its lower half to drop at the lower lip, drop over the chin, fading out below
    it (the neck); across, most under the chin's middle, nothing at the jaw's angles. A closing mouth (drop < 0)
    narrows the whole opening instead, by at most CLOSABLE of it: a closed mouth stays as it is."""

    def __init__(self, landmarks: np.ndarray, drop: float, config: JawDrop):
        lips = landmarks[LIP_BOTTOM, 1] - landmarks[LIP_TOP, 1]
        upper, lower = landmarks[UPPER_LIP, 1], landmarks[LOWER_LIP, 1]
        self.drop = max(drop, -CLOSABLE * max(lower - upper, 0.0))
        self.top = upper if drop < 0 else (upper + lower) / 2  # where upper and lower teeth meet
        self.lip = max(lower, self.top + config.opening * lips)
        self.chin = landmarks[CHIN, 1]
        self.fade = max(0.6 * (self.chin - landmarks[LIP_BOTTOM, 1]), 2.0 * abs(drop))  # no folds in the neck
        self.centre = (landmarks[UPPER_LIP, 0] + landmarks[CHIN, 0]) / 2
        self.half = max(abs(landmarks[JAW_ANGLES[1], 0] - landmarks[JAW_ANGLES[0], 0]) / 2, 1.0)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        down = np.where(y < self.lip, _smoothstep((y - self.top) / (self.lip - self.top)),
                        1 - _smoothstep((y - self.chin) / self.fade))
        across = 1 - _smoothstep(np.abs(x - self.centre) / self.half)
        return self.drop * down * across

    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) in the aligned frame: nothing outside it moves."""
        return self.centre - self.half, self.top, self.centre + self.half, self.chin + self.fade + max(self.drop, 0.0)


def _affine(matrix: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (x, y) mapped by a 2x3 affine matrix."""
    return (matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2],
            matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2])


def _placed(shape: tuple[int, ...], landmarks: np.ndarray, drop: float, to_aligned: np.ndarray | None,
            config: JawDrop) -> tuple[_Field, np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The field of an image (shape), the maps to and from the aligned frame (to_aligned None: the image is that
    frame), and (x0, y0, x1, y1): the image's pixels the field's box covers, with a margin for interpolation."""
    to_aligned = np.eye(3)[:2] if to_aligned is None else np.asarray(to_aligned, np.float64)
    to_image = cv2.invertAffineTransform(to_aligned)
    field = _Field(np.asarray(landmarks, np.float64), drop, config)
    left, top, right, bottom = field.box()
    xs, ys = _affine(to_image, np.array([left, right, left, right]), np.array([top, top, bottom, bottom]))
    x0, y0 = max(int(np.floor(xs.min())) - 2, 0), max(int(np.floor(ys.min())) - 2, 0)
    x1, y1 = min(int(np.ceil(xs.max())) + 3, shape[1]), min(int(np.ceil(ys.max())) + 3, shape[0])
    return field, to_aligned, to_image, (x0, y0, x1, y1)


def drop_jaw(image: np.ndarray, landmarks: np.ndarray, drop: float, to_aligned: np.ndarray | None = None,
             config: JawDrop = JAW_DROP) -> np.ndarray:
    """image with the jaw moved drop aligned pixels down (up: drop < 0). landmarks: the face's 478 in the aligned
    frame; to_aligned: the 2x3 map from image to that frame (core.align.Alignment.matrix; None: image is the aligned
    face). Pixels outside jaw_reach come back unchanged."""
    field, to_aligned, to_image, (x0, y0, x1, y1) = _placed(image.shape, landmarks, drop, to_aligned, config)
    if not field.drop or x1 <= x0 or y1 <= y0:
        return image.copy()
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    qx, qy = _affine(to_aligned, xs, ys)
    # Each pixel shows the point that moved onto it: s + field(s) = qy, increasing in s, so bisect.
    low, high = qy - max(field.drop, 0.0) - 1, qy + max(-field.drop, 0.0) + 1
    for _ in range(20):
        mid = (low + high) / 2
        past = mid + field(qx, mid) > qy
        low, high = np.where(past, low, mid), np.where(past, mid, high)
    sy = (low + high) / 2
    map_x, map_y = _affine(to_image, qx, sy)
    moved = cv2.remap(image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_CUBIC,
                      borderMode=cv2.BORDER_REPLICATE)
    still = np.abs(sy - qy) < 1e-3  # points that do not move keep their exact pixels
    out = image.copy()
    out[y0:y1, x0:x1] = np.where(still[..., None] if image.ndim == 3 else still, image[y0:y1, x0:x1], moved)
    return out


def jaw_reach(shape: tuple[int, ...], landmarks: np.ndarray, drop: float, to_aligned: np.ndarray | None = None,
              config: JawDrop = JAW_DROP) -> np.ndarray:
    """(H, W) bool: the pixels of an image (shape; to_aligned as in drop_jaw) that drop_jaw may change. It reaches
    below the aligned frame where the neck does."""
    reach = np.zeros(shape[:2], bool)
    field, _, _, (x0, y0, x1, y1) = _placed(shape, landmarks, drop, to_aligned, config)
    if field.drop:
        reach[y0:y1, x0:x1] = True
    return reach
