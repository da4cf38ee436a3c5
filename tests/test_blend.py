"""Poisson blending and paste-back: exact on cases with a known answer, and never touching known pixels."""
import cv2
import numpy as np
import pytest

from core.blend import match_colours, poisson_blend
from core.masks import Mask, center_mask, grid_mask, left_mask, preset_mask, random_mask, stroke_mask


def ramp(size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return np.repeat((20 + 2 * xx + yy)[..., None], 3, axis=2).astype(np.float64)


def test_constant_into_constant_takes_the_border_value():
    image, generated = np.full((64, 64, 3), 200, np.uint8), np.full((64, 64, 3), 90, np.uint8)
    blended = poisson_blend(image, generated, center_mask(64).fill)
    assert (blended == 200).all()  # seamlessClone gave 89 here


@pytest.mark.parametrize("guidance", [1.0, 0.5, 0.0])
def test_a_linear_ramp_is_reproduced_exactly(guidance):
    # G's gradients equal the ramp's (any offset), and a ramp is harmonic: every guidance gives the ramp
    # inside the image. A hole on the image's edge (free boundary there) is exact with G's full gradients.
    truth = ramp()
    masks = [center_mask(64), stroke_mask(64, 3)] + [left_mask(64)] * (guidance == 1.0)
    for mask in masks:
        blended = poisson_blend(truth.astype(np.uint8), truth + 37, mask.fill, guidance)
        np.testing.assert_array_equal(blended, truth.astype(np.uint8))


@pytest.mark.parametrize("name", ["center", "left", "strokes", "random", "grid"])
def test_known_pixels_are_bit_identical(name):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    generated = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = preset_mask(name, 64, seed=2)
    blended = poisson_blend(image, generated, mask.fill)
    np.testing.assert_array_equal(blended[~mask.fill], image[~mask.fill])
    assert not np.array_equal(blended[mask.fill], image[mask.fill])


def test_the_hole_keeps_the_generated_detail():
    image = np.full((32, 32, 3), 100, np.uint8)
    generated = np.full((32, 32, 3), 50.0)
    generated[14:18, 14:18] = 150  # a bright detail in the middle of the hole
    blended = poisson_blend(image, generated, center_mask(32).fill).astype(int)
    assert blended[16, 16, 0] - blended[10, 10, 0] > 90  # the detail's contrast survives...
    assert abs(blended[8, 16, 0] - 100) <= 1  # ...and the border takes the image's value


def test_a_piece_of_the_hole_with_no_known_neighbour_keeps_the_generated_pixels():
    generated = np.full((16, 16, 3), 77, np.uint8)
    everything = Mask(np.zeros((16, 16), np.float32))
    np.testing.assert_array_equal(poisson_blend(np.zeros_like(generated), generated, everything.fill), generated)


def test_sparse_masks_blend_without_touching_the_grid():
    truth = ramp(32)
    for mask in (grid_mask(32), random_mask(32, seed=4)):
        blended = poisson_blend(truth.astype(np.uint8), truth - 50, mask.fill)
        np.testing.assert_array_equal(blended, truth.astype(np.uint8))  # OpenCV's blend moved these by up to 144


def test_colour_fit_recovers_an_affine_colour_change():
    rng = np.random.default_rng(0)
    image = rng.uniform(40, 200, (64, 64, 3))
    generated = (image - 10) / 1.5  # G's colours: darker and flatter than the photo
    fitted = match_colours(generated, image, center_mask(64).fill)
    np.testing.assert_allclose(fitted, image, atol=1e-3)


def test_bad_arguments_are_refused():
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="guidance"):
        poisson_blend(image, image, np.ones((8, 8)), guidance=2.0)
    with pytest.raises(ValueError, match="Shapes differ"):
        poisson_blend(image, np.zeros((9, 8, 3)), np.ones((8, 8)))


def test_a_stack_of_fills_blends_each_as_it_would_alone():
    """The fills to choose from are blended into one face and hole with one factorisation."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    fills = rng.uniform(0, 255, (3, 32, 32, 3))
    for mask in (center_mask(32), stroke_mask(32, 5), Mask(np.ones((32, 32), np.float32))):  # no hole: nothing solved
        stacked = poisson_blend(image, fills, mask.fill, 0.9)
        assert stacked.shape == fills.shape and stacked.dtype == np.uint8
        for fill, alone in zip(fills, stacked):
            np.testing.assert_array_equal(alone, poisson_blend(image, fill, mask.fill, 0.9))


def test_other_fills_keep_to_the_colours_round_the_hole_or_the_first_fills():
    from core.blend import within_photo_colours

    mask = center_mask(32).fill
    face = np.full((32, 32, 3), (180, 140, 120), np.uint8)  # skin all round the hole
    first = face.copy()
    first[14:18, 10:22] = (200, 60, 90)  # the first fill's red lips
    magenta = np.tile(np.array((230, 30, 220), np.float32), (2, 32, 32, 1))
    kept = within_photo_colours(magenta, first, face, mask)
    np.testing.assert_array_equal(kept[:, ~mask], magenta[:, ~mask])  # outside the hole: as drawn
    skin_chroma = cv2.cvtColor(face, cv2.COLOR_RGB2LAB)[0, 0, 1:].astype(int)
    chroma = cv2.cvtColor(np.round(kept[0]).astype(np.uint8), cv2.COLOR_RGB2LAB)[..., 1:].astype(int)
    where_skin = mask & ~(first != face).any(axis=-1)  # where the first fill drew skin: the skin's colours, +- 4
    assert np.abs(chroma[where_skin] - skin_chroma).max() <= 6
    assert np.abs(cv2.cvtColor(magenta[0].astype(np.uint8), cv2.COLOR_RGB2LAB)[0, 0, 1:] - skin_chroma).max() > 50
    red = np.tile(np.array((200, 60, 90), np.float32), (1, 32, 32, 1))  # as red as the first fill where it was red
    np.testing.assert_allclose(within_photo_colours(red, first, face, mask)[0, 14:18, 10:22], red[0, 14:18, 10:22],
                               atol=2)
