"""A hole drawn on the photo: mapped into the model's frame, pasted back only where it was painted."""
import cv2
import numpy as np
import pytest

from core.align import FaceAligner
from core.config import CompletionConfig
from core.masks import MaskError, center_mask
from core.photo_mask import face_view, frame_corners, hole_from_drawing, outside_overlay, view_image, zoomed
from core.inpaint import paste_back, photo_fill

SIZE = 64


@pytest.fixture(scope="module")
def alignment(astronaut):
    with FaceAligner() as aligner:
        return aligner.align(astronaut, SIZE)


@pytest.fixture(scope="module")
def view(astronaut, alignment):
    return face_view(astronaut.shape, alignment, SIZE, shown_width=600)


def painting_of(photo_pixels: np.ndarray, view) -> np.ndarray:
    """A drawing on the view (at twice its shown size, as on a screen of pixel ratio 2) of these photo pixels."""
    crop = photo_pixels[view.top : view.top + view.height, view.left : view.left + view.width].astype(np.float32)
    return cv2.resize(crop, (2 * view.shown_width, 2 * view.shown_height), interpolation=cv2.INTER_NEAREST) > 0


def test_the_view_holds_the_frame_and_is_shown_at_the_asked_width(astronaut, alignment, view):
    corners = frame_corners(alignment, SIZE)
    assert (corners >= [view.left, view.top]).all() or view.left == 0 or view.top == 0
    assert view.left <= corners[:, 0].min() + 1 and view.left + view.width >= min(corners[:, 0].max() - 1,
                                                                                   astronaut.shape[1])
    assert view.shown_width == 600
    shown = view_image(astronaut, view, alignment, SIZE)
    assert shown.shape == (view.shown_height, 600, 3) and shown.dtype == np.uint8
    assert (np.all(shown == (255, 214, 0), axis=2)).sum() > 100  # the frame's yellow outline is drawn
    plain = zoomed(astronaut, view)  # the same view without the outline (a result shown as large as it was drawn on)
    assert plain.shape == shown.shape and 0 < (plain != shown).any(axis=2).mean() < 0.05
    tall = face_view(astronaut.shape, alignment, SIZE, shown_width=600, max_shown_height=200)
    assert tall.shown_height <= 201 and tall.shown_width < 600


def test_a_preset_drawn_on_the_photo_gives_back_the_preset(astronaut, alignment, view):
    # Paint exactly the photo pixels that the centre preset's hole covers: the mask in the model's frame is that preset.
    preset = center_mask(SIZE)
    hole = hole_from_drawing(painting_of(photo_fill(astronaut.shape, alignment, preset), view), view,
                             astronaut.shape, alignment, SIZE)
    assert hole.outside_fraction == 0 and not hole.outside.any()
    ring = cv2.dilate(preset.fill.astype(np.uint8), np.ones((3, 3))) > cv2.erode(preset.fill.astype(np.uint8),
                                                                              np.ones((3, 3)))
    differ = hole.mask.fill != preset.fill
    assert not differ[~ring].any()  # only pixels on the hole's border go the other way
    assert (hole.mask.fill & preset.fill).sum() >= 0.95 * preset.fill.sum()


def test_a_thin_stroke_stays_thin_in_the_photo(astronaut, alignment, view):
    # A 3 px line across the nose: the model's mask holds a line of whole model pixels, but the pasted
    # photo changes only the painted pixels (a mask warped back would change a wider band).
    painted = np.zeros(astronaut.shape[:2], np.uint8)
    nose = np.round(cv2.invertAffineTransform(alignment.matrix) @ [SIZE / 2, SIZE * 0.55, 1]).astype(int)
    cv2.line(painted, (nose[0] - 20, nose[1]), (nose[0] + 20, nose[1]), 1, 3)
    hole = hole_from_drawing(painting_of(painted, view), view, astronaut.shape, alignment, SIZE)
    assert 0 < hole.mask.fill.sum() <= 5 * 26  # 40 photo px is 23 model px: a line a few model px thick
    assert abs(int(hole.photo_fill.sum()) - int(painted.sum())) <= 0.25 * painted.sum()
    warped_back = photo_fill(astronaut.shape, alignment, hole.mask)
    assert warped_back.sum() > 1.1 * hole.photo_fill.sum()  # whole model pixels are wider (1.7 photo px here)
    brighter = alignment.face.astype(np.float32) + 60
    pasted = paste_back(astronaut, alignment, brighter, hole.mask, CompletionConfig(blend=False, photo_detail=False),
                        fill=hole.photo_fill)
    changed = np.any(pasted != astronaut, axis=2)
    assert changed.any() and not changed[~hole.photo_fill].any()


def test_what_is_drawn_outside_the_frame_is_shown_and_not_filled(astronaut, alignment):
    view = face_view(astronaut.shape, alignment, SIZE, shown_width=400, margin=0.5)
    painted = np.zeros((view.shown_height, view.shown_width), bool)
    painted[:, :20] = True  # a band down the view's left edge: outside the frame
    with pytest.raises(MaskError, match="outside the face's frame"):
        hole_from_drawing(painted, view, astronaut.shape, alignment, SIZE)
    painted[view.shown_height // 2 - 20 : view.shown_height // 2 + 20, :] = True  # and across the face
    hole = hole_from_drawing(painted, view, astronaut.shape, alignment, SIZE)
    assert 0.1 < hole.outside_fraction < 0.9
    assert hole.outside[:, :10].all() and not hole.outside[view.shown_height // 2, view.shown_width // 2]
    shown = view_image(astronaut, view, alignment, SIZE)
    red = outside_overlay(shown, hole.outside)
    assert (red[:, :10, 0] > red[:, :10, 1] + 50).all() and (red[:10, -10:] == shown[:10, -10:]).all()
    corners = frame_corners(alignment, SIZE)
    assert not hole.photo_fill[:, : int(corners[:, 0].min()) - 2].any()


def test_nothing_drawn_is_refused_with_a_message(astronaut, alignment, view):
    with pytest.raises(MaskError, match="Nothing is drawn"):
        hole_from_drawing(np.zeros((view.shown_height, view.shown_width)), view, astronaut.shape, alignment, SIZE)
    with pytest.raises(MaskError, match="2-D"):
        hole_from_drawing(np.zeros(5), view, astronaut.shape, alignment, SIZE)
