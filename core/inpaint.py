"""One photo through the whole method: fill the aligned faces (core.face_filler), blend each fill into its face and
paste it back into its photo with the photo's own fine detail, make a GIF.

The Inpaint page and `python -m core.complete` both call `complete_faces` with one FillRequest per face and show
or save what it returns, so the two always agree.

Paste-back happens at the photo's own resolution: G(z^) is warped back into the photo and
Poisson-blended against the photo's pixels round the hole there, so the hole's border
matches the photo (not a 64 px copy of it) and nothing outside the hole changes.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Callable, Sequence

import cv2
import numpy as np

from core.align import Alignment
from core.blend import blend_fill, blend_in
from core.face_filler import FaceFiller, Completion, ProgressCallback
from core.config import CompletionConfig
from core.detail import add_photo_detail
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
    # Pastes the fill back into the photo, once, when pasted is first asked for: the page shows one fill's photo at a
    # time, so the fills not picked are never pasted (each is a Poisson solve and a detail transfer at the photo's size).
    paste: Callable[[], np.ndarray] | None = None
    frames: list[np.ndarray] = field(default_factory=list)  # the completion as the optimiser went

    @cached_property
    def pasted(self) -> np.ndarray | None:
        """The photo with the hole filled at its own resolution; None for an aligned face without a photo."""
        return None if self.paste is None else self.paste()

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
    return with_photo_detail(out, fill, config) if config.photo_detail and not add_to_photo else out


def with_photo_detail(filled: np.ndarray, fill: np.ndarray, config: CompletionConfig) -> np.ndarray:
    """filled with the photo's own fine detail in the hole (core.detail), copied from a window round the hole half
    its size wider on every side; pixels outside the hole are returned unchanged."""
    rows, cols = np.where(fill)
    margin = max(8, (max(np.ptp(rows), np.ptp(cols)) + 1) // 2)
    h, w = fill.shape
    window = (slice(max(rows.min() - margin, 0), min(rows.max() + margin + 1, h)),
              slice(max(cols.min() - margin, 0), min(cols.max() + margin + 1, w)))
    detailed = add_photo_detail(filled[window], fill[window], config.seed)
    out = filled.copy()
    out[window][fill[window]] = np.clip(np.round(detailed[fill[window]]), 0, 255)
    return out


@dataclass(frozen=True)
class FillRequest:
    """One face to fill: the aligned face (uint8, the model's size) under its mask, and for a face cut from a photo,
    the photo and its alignment, to paste the fill back into, and photo_fill, the photo's pixels to replace when the
    hole was drawn on the photo (core.photo_mask.PhotoHole.photo_fill; None: the mask's hole warped back)."""

    face: np.ndarray
    mask: Mask
    photo: np.ndarray | None = None
    alignment: Alignment | None = None
    photo_fill: np.ndarray | None = None


def complete_faces(
    filler: FaceFiller,
    requests: Sequence[FillRequest],
    config: CompletionConfig | None = None,
    fills: int = 1,
    progress: ProgressCallback | None = None,
    seconds: float | None = None,
    on_first: Callable[[list[FaceResult]], None] | None = None,
) -> list[list[FaceResult]]:
    """fills fills of each request's face to choose from, each blended and pasted back into its photo.

    The first of each is the method's single fill (FaceFiller.complete); on_first(first fills) gets them as soon as
    they are made, so a page can show them while the others are made (FaceFiller.other_fills: other faces that fit
    the same known pixels). progress(iteration, loss, previews) is called at every report of the first fills'
    search; returning False stops it early. seconds bounds that search (a shared server's budget per request): at
    the first report past it, the search stops and the best z so far is fine-tuned and blended. config None: the
    model's own defaults.
    """
    if not 1 <= fills <= MAX_VARIANTS:
        raise ValueError(f"fills must be from 1 to {MAX_VARIANTS}, got {fills}")
    config = filler.model.completion if config is None else config
    deadline = None if seconds is None else time.perf_counter() + seconds
    faces, masks = np.stack([r.face for r in requests]), [r.mask for r in requests]
    frames: list[list[np.ndarray]] = [[] for _ in requests]

    def record(iteration: int, loss: np.ndarray, preview: np.ndarray) -> bool | None:
        for kept, image in zip(frames, to_uint8(preview)):
            kept.append(image)
        if progress is not None and progress(iteration, loss, preview) is False:
            return False
        return deadline is None or time.perf_counter() < deadline

    first = filler.complete(faces, masks, config, record, keep_tuned=fills > 1)
    results = [[face_result(request, first, i, config, frames[i])] for i, request in enumerate(requests)]
    if fills > 1:
        if on_first is not None:
            on_first([face[0] for face in results])
        others = filler.other_fills(faces, masks, first, fills - 1, config)
        for i, request in enumerate(requests):
            rows = range((fills - 1) * i, (fills - 1) * (i + 1))
            results[i] += [face_result(request, others, row, config) for row in rows]
    return results


def face_result(request: FillRequest, completion: Completion, row: int, config: CompletionConfig,
                frames: list[np.ndarray] | None = None) -> FaceResult:
    """What is shown or saved of one fill: completion's row, a fill of request's face, blended into the aligned face
    and, once asked for (FaceResult.pasted), pasted back into its photo."""
    generated = completion.generated[row]
    paste = None if request.photo is None else partial(
        paste_back, request.photo, request.alignment, (generated + 1) * 127.5, request.mask, config,
        fill=request.photo_fill)
    return FaceResult(masked_preview(request.face, request.mask), to_uint8(generated),
                      blend_in(request.face, generated, request.mask, config), float(completion.loss[row]),
                      completion.iterations, paste, frames or [])
