import numpy as np
import pytest

from core.masks import (
    PRESETS, MaskError, center_mask, grid_mask, left_mask, lowres_mask, mask_from_canvas, mask_from_image,
    masked_preview, preset_mask, random_mask,
)


@pytest.mark.parametrize(
    "mask, known_fraction",
    [
        (center_mask(64), 0.75),
        (left_mask(64), 0.5),
        (grid_mask(64), 1 - (3 / 4) ** 2),
        (preset_mask("full", 64), 0.0),
    ],
)
def test_known_fraction(mask, known_fraction):
    assert mask.known.shape == (64, 64) and mask.known.dtype == np.float32
    assert set(np.unique(mask.known)) <= {0.0, 1.0}
    assert mask.known.mean() == pytest.approx(known_fraction)


def test_center_hole_is_the_middle_square():
    known = center_mask(64).known
    assert known[16:48, 16:48].max() == 0 and known[:16].min() == 1 and known[48:].min() == 1


def test_random_mask_is_seeded_and_has_the_fraction():
    a, b = random_mask(64, 0.8, seed=1), random_mask(64, 0.8, seed=1)
    np.testing.assert_array_equal(a.known, b.known)
    assert a.known.mean() == pytest.approx(0.2, abs=0.03)
    assert not np.array_equal(a.known, random_mask(64, 0.8, seed=2).known)


def test_lowres_knows_only_block_averages():
    mask = lowres_mask(64)
    assert mask.lowres_factor == 8 and mask.fill_fraction == 1.0
    with pytest.raises(MaskError):
        lowres_mask(60)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_scale_with_image_size(name):
    assert preset_mask(name, 32).known.shape == (32, 32)


def test_unknown_preset_is_refused():
    with pytest.raises(MaskError, match="Unknown mask"):
        preset_mask("star", 64)


def test_canvas_of_any_size_becomes_a_mask():
    canvas = np.zeros((300, 300, 4), np.uint8)
    canvas[150:300, :, 3] = 255  # the bottom half is painted over
    mask = mask_from_canvas(canvas, 64)
    assert mask.known.shape == (64, 64)
    assert mask.known[:32].min() == 1 and mask.known[32:].max() == 0


def test_empty_canvas_is_refused():
    with pytest.raises(MaskError, match="Nothing is drawn"):
        mask_from_canvas(np.zeros((200, 200, 4), np.uint8), 64)


@pytest.mark.parametrize("shape", [(64, 64), (64, 64, 3), (10,)])
def test_canvas_must_be_rgba(shape):
    with pytest.raises(MaskError):
        mask_from_canvas(np.zeros(shape, np.uint8), 64)


def test_mask_png_white_is_fill():
    image = np.zeros((128, 128, 3), np.uint8)
    image[:, 64:] = 255
    mask = mask_from_image(image, 64)
    assert mask.known[:, :32].min() == 1 and mask.known[:, 32:].max() == 0


def test_preview_greys_the_hole():
    face = np.full((64, 64, 3), 200, np.uint8)
    preview = masked_preview(face, center_mask(64))
    assert preview[32, 32].tolist() == [128, 128, 128] and preview[0, 0].tolist() == [200, 200, 200]


def test_mask_files_painted_tiny_and_not_square(tmp_path):
    from PIL import Image

    from core.masks import read_mask

    painted = np.zeros((256, 256, 4), np.uint8)
    painted[100:140, 40:220] = (255, 0, 0, 255)  # a red stroke on a transparent PNG
    Image.fromarray(painted).save(tmp_path / "painted.png")
    mask = read_mask(tmp_path / "painted.png", 64)
    assert mask.fill[30, 32] and not mask.fill[5, 5] and 0.05 < mask.fill_fraction < 0.2

    tiny = np.zeros((8, 8), np.uint8)
    tiny[2:6, 2:6] = 255
    Image.fromarray(tiny).save(tmp_path / "tiny.png")
    assert read_mask(tmp_path / "tiny.png", 64).fill[32, 32]  # an 8x8 mask is scaled up, not refused

    Image.fromarray(np.full((37, 100), 255, np.uint8)).save(tmp_path / "wide.png")
    with pytest.raises(MaskError, match="100x37 pixels; it must be square"):
        read_mask(tmp_path / "wide.png", 64)


@pytest.mark.parametrize("corner", [(0, 0), (2, 2), (126, 130), (253, 61)])
def test_a_small_dot_is_not_ignored(corner):
    canvas = np.zeros((256, 256, 4), np.uint8)
    y, x = corner
    canvas[y : y + 3, x : x + 3, 3] = 255  # a 3-4 px brush dot, anywhere on the 4x canvas
    mask = mask_from_canvas(canvas, 64)
    assert 1 <= mask.fill.sum() <= 4
