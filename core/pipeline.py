"""One photo through the whole method: complete the aligned faces, blend, paste back, make a GIF.

The Inpaint page and `python -m core.complete` both call `complete_faces` and show or
save what it returns, so the two always agree.

Paste-back happens at the photo's own resolution: G(z^) is warped back into the photo and
Poisson-blended against the photo's pixels round the hole there, so the hole's border
matches the photo (not a 64 px copy of it) and nothing outside the hole changes.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from core.align import Alignment
from core.blend import blend_fill
from core.completer import Completer, ProgressCallback
from core.config import CompletionConfig
from core.grain import add_grain
from core.images import save_gif, to_uint8
from core.masks import Mask, masked_preview

MAX_VARIANTS = 8  # fills to choose from, at most (each is blended and pasted back on its own)
MAX_BLEND_PIXELS = 1_000_000  # a larger hole in a photo is solved at a reduced scale (memory and time)


@dataclass
class FaceResult:
    """Everything shown or saved for one completed face (uint8 RGB images)."""

    masked: np.ndarray  # the aligned face as the model sees it
    generated: np.ndarray  # G(z^)
    completed: np.ndarray  # the aligned face with its hole filled and blended
    loss: float
    iterations: int  # fewer than asked when the time budget ran out
    pasted: np.ndarray | None = None  # the photo with the hole filled at its own resolution
    frames: list[np.ndarray] = field(default_factory=list)  # the completion as the optimiser went

    def gif(self, scale: int = 4) -> bytes:
        """The optimisation as an animated GIF, ending on the blended result."""
        buffer = io.BytesIO()
        save_gif(buffer, [*self.frames, self.completed], scale=scale)
        return buffer.getvalue()


def photo_fill(shape: tuple[int, ...], alignment: Alignment, mask: Mask) -> np.ndarray:
    """The photo's pixels (H x W bool) that mask's hole covers, once warped back from the aligned frame."""
    h, w = shape[:2]
    inverse = cv2.invertAffineTransform(alignment.matrix)
    return cv2.warpAffine(mask.fill.astype(np.float32), inverse, (w, h), flags=cv2.INTER_LINEAR) > 0.5


def paste_back(photo: np.ndarray, alignment: Alignment, generated: np.ndarray, mask: Mask,
               config: CompletionConfig, add_to_photo: bool = False, fill: np.ndarray | None = None) -> np.ndarray:
    """The photo with mask's hole filled by the aligned generated face, blended at the photo's resolution.

    add_to_photo: generated is a change to add to the photo's own pixels (an edit), not a face to
    put in their place, so the photo keeps its resolution where the change is small. fill: the
    photo's pixels to replace (H x W bool) when the hole was drawn on the photo (core.photo_mask);
    by default mask's hole warped back (photo_fill). Pixels outside it are returned unchanged.
    """
    h, w = photo.shape[:2]
    inverse = cv2.invertAffineTransform(alignment.matrix)
    fill = photo_fill(photo.shape, alignment, mask) if fill is None else fill
    if not fill.any():
        return photo.copy()
    rows, cols = np.where(fill)
    top, left = max(rows.min() - 1, 0), max(cols.min() - 1, 0)
    bottom, right = min(rows.max() + 2, h), min(cols.max() + 2, w)
    crop_h, crop_w = bottom - top, right - left
    # Warp straight into the crop: shift the inverse map by the crop's corner.
    to_crop = inverse - np.array([[0, 0, left], [0, 0, top]], np.float64)
    face = cv2.warpAffine(np.asarray(generated, np.float32), to_crop, (crop_w, crop_h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)
    region, hole = photo[top:bottom, left:right], fill[top:bottom, left:right]
    if add_to_photo:
        face = region + face
    out = photo.copy()
    if not config.blend:
        out[top:bottom, left:right][hole] = np.clip(np.round(face[hole]), 0, 255)
    else:
        scale = min(1.0, float(np.sqrt(MAX_BLEND_PIXELS / hole.sum())))
        if scale < 1.0:  # solve small, then write only the hole's pixels back at full size
            small = (max(1, round(crop_w * scale)), max(1, round(crop_h * scale)))

            def shrink(a: np.ndarray) -> np.ndarray:
                return cv2.resize(a, small, interpolation=cv2.INTER_AREA)

            solved = blend_fill(shrink(region), shrink(face), shrink(hole.astype(np.float32)) > 0.5, config)
            solved = cv2.resize(solved, (crop_w, crop_h), interpolation=cv2.INTER_CUBIC)
        else:
            solved = blend_fill(region, face, hole, config)
        out[top:bottom, left:right][hole] = solved[hole]
    return with_grain(out, fill, config) if config.grain and not add_to_photo else out


def with_grain(filled: np.ndarray, fill: np.ndarray, config: CompletionConfig) -> np.ndarray:
    """filled with the photo's own fine detail in the hole (core.grain), copied from a window round the hole half
    its size wider on every side; pixels outside the hole are returned unchanged."""
    rows, cols = np.where(fill)
    margin = max(8, (max(np.ptp(rows), np.ptp(cols)) + 1) // 2)
    h, w = fill.shape
    window = (slice(max(rows.min() - margin, 0), min(rows.max() + margin + 1, h)),
              slice(max(cols.min() - margin, 0), min(cols.max() + margin + 1, w)))
    grained = add_grain(filled[window], fill[window], config.seed)
    out = filled.copy()
    out[window][fill[window]] = np.clip(np.round(grained[fill[window]]), 0, 255)
    return out


def complete_faces(
    completer: Completer,
    faces: Sequence[np.ndarray],
    mask: Mask,
    config: CompletionConfig | None = None,
    sources: Sequence[tuple[np.ndarray, Alignment] | None] | None = None,
    progress: ProgressCallback | None = None,
    seconds: float | None = None,
    variants: int = 1,
    photo_fills: Sequence[np.ndarray | None] | None = None,
) -> list[FaceResult]:
    """Complete aligned faces (uint8, model size) under one mask; paste each back into its photo.

    sources[i] is (photo, alignment) for a face cut from a photo, None for one that is already
    aligned (a random face, an aligned file). progress(iteration, loss, previews) is called at
    every report; returning False stops early. seconds bounds the search on z (a shared
    server's budget per request): at the first report past it, the search stops and the best
    z so far is fine-tuned and blended. variants: see Completer.complete; the results are then each face's
    variants in a row. photo_fills[i]: the photo pixels to replace when the hole was drawn on face i's photo
    (core.photo_mask.PhotoHole.photo_fill); None: mask's hole warped back. config None: the model's own defaults.
    """
    config = completer.model.completion if config is None else config
    deadline = None if seconds is None else time.perf_counter() + seconds
    faces = np.stack(faces)
    sources = list(sources) if sources is not None else [None] * len(faces)
    photo_fills = list(photo_fills) if photo_fills is not None else [None] * len(faces)
    frames: list[list[np.ndarray]] = [[] for _ in range(len(faces) * variants)]

    def record(iteration: int, loss: np.ndarray, preview: np.ndarray) -> bool | None:
        for kept, image in zip(frames, to_uint8(preview)):
            kept.append(image)
        if progress is not None and progress(iteration, loss, preview) is False:
            return False
        return deadline is None or time.perf_counter() < deadline

    completion = completer.complete(faces, mask, config, record, variants)
    results = []
    for i in range(len(frames)):
        face, source = faces[i // variants], sources[i // variants]
        generated = to_uint8(completion.generated[i])
        pasted = None
        if source is not None:
            photo, alignment = source
            pasted = paste_back(photo, alignment, (completion.generated[i] + 1) * 127.5, mask, config,
                                fill=photo_fills[i // variants])
        results.append(FaceResult(masked_preview(face, mask), generated, completion.blended[i],
                                  float(completion.loss[i]), completion.iterations, pasted, frames[i]))
    return results


def complete_variants(
    completer: Completer,
    faces: Sequence[np.ndarray],
    mask: Mask,
    count: int,
    config: CompletionConfig | None = None,
    sources: Sequence[tuple[np.ndarray, Alignment] | None] | None = None,
    progress: ProgressCallback | None = None,
    seconds: float | None = None,
    photo_fills: Sequence[np.ndarray | None] | None = None,
) -> list[list[FaceResult]]:
    """count fills of each face to choose from, each one sharp face (no average): the first by the single fill's
    method, the others from other random z, without the encoder's guess, so they end elsewhere (Completer.complete's
    variants). All are searched in one batch and share one fine-tuned G; each is blended and pasted back."""
    if not 1 <= count <= MAX_VARIANTS:
        raise ValueError(f"variants must be from 1 to {MAX_VARIANTS}, got {count}")
    results = complete_faces(completer, faces, mask, config, sources, progress, seconds, count, photo_fills)
    return [results[i : i + count] for i in range(0, len(results), count)]
