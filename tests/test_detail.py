"""The photo's own fine detail in a filled hole (core.detail), on synthetic photos of known grain and edges."""
import cv2
import numpy as np
import pytest

from core.detail import (MAX_MATCHES, TOLERANCE, add_photo_detail, detail_in_place, detail_ratio, near_match,
                         without_checkerboard)
from tests.helpers.patterns import checkerboard


def grainy_photo(sigma: float = 6.0, size: int = 120, seed: int = 0) -> np.ndarray:
    """A smooth colour ramp plus Gaussian grain of sigma grey levels (float32)."""
    ramp = np.linspace(60, 190, size, dtype=np.float32)
    base = np.stack([ramp[None, :].repeat(size, 0), ramp[:, None].repeat(size, 1), np.full((size, size), 120.0)], -1)
    return (base + np.random.default_rng(seed).normal(0, sigma, base.shape)).astype(np.float32)


def centre_hole(size: int = 120, side: int = 40) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[(size - side) // 2 : (size + side) // 2, (size - side) // 2 : (size + side) // 2] = True
    return hole


def soft_fill(photo: np.ndarray, hole: np.ndarray, sigma: float) -> np.ndarray:
    """photo with its hole holding the truth blurred: a fill in the right place, as soft as an enlarged G(z)."""
    filled = photo.copy()
    filled[hole] = cv2.GaussianBlur(photo, (0, 0), sigma)[hole]
    return filled


def hole_error(result: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    return float(((result[hole] - truth[hole]) ** 2).mean())


def test_detail_ratio_is_one_for_the_truth_and_small_for_a_blur():
    photo, hole = grainy_photo(), centre_hole()
    assert detail_ratio(photo, photo, hole) == 1.0
    assert detail_ratio(cv2.GaussianBlur(photo, (0, 0), 3), photo, hole) < 0.05


def test_without_checkerboard_removes_the_pattern_and_keeps_texture():
    """A checkerboard counts as detail to detail_ratio; without_checkerboard takes it out and leaves grain, edges and
    flat colour, so that a fill's detail, both sides filtered, still reads 1.0 for the truth and ~0 for a blur."""
    photo, hole = grainy_photo(), centre_hole()
    blurred = cv2.GaussianBlur(photo, (0, 0), 3)
    patterned = blurred + checkerboard(photo.shape, 6.0)
    assert detail_ratio(patterned, photo, hole) > 0.5
    assert detail_ratio(without_checkerboard(patterned), without_checkerboard(photo), hole) < 0.05
    assert np.abs(without_checkerboard(checkerboard(photo.shape, 6.0))).max() < 1e-4
    assert without_checkerboard(np.full((8, 8, 3), 90.0)) == pytest.approx(90.0)
    assert detail_ratio(without_checkerboard(photo), without_checkerboard(photo), hole) == 1.0
    assert detail_ratio(without_checkerboard(blurred), without_checkerboard(photo), hole) < 0.05


def test_detail_in_place_counts_the_truths_band_and_not_noise():
    """Grain laid over a blur raises the detail ratio but not the detail in place; the truth's own band does both."""
    photo, hole = grainy_photo(), centre_hole()
    blurred = cv2.GaussianBlur(photo, (0, 0), 3)
    noise = np.random.default_rng(5).normal(0, 6.0, photo.shape).astype(np.float32)  # as much grain as the photo
    assert detail_in_place(photo, photo, hole) == 1.0
    assert abs(detail_in_place(blurred, photo, hole)) < 0.05
    assert detail_ratio(blurred + noise, photo, hole) > 0.5 and abs(detail_in_place(blurred + noise, photo, hole)) < 0.05
    assert 0.9 < detail_in_place(photo + noise, photo, hole) < 1.1  # noise on the truth takes nothing away either
    shifted = np.roll(photo, 7, axis=1)  # the same texture, not in its place
    assert detail_ratio(shifted, photo, hole) > 0.8 and abs(detail_in_place(shifted, photo, hole)) < 0.1


def test_a_match_is_one_of_the_near_examples_at_random():
    rng = np.random.default_rng(0)
    queries, examples = rng.standard_normal((300, 16), np.float32), rng.standard_normal((2000, 16), np.float32)
    squared = ((queries[:, None] - examples[None]) ** 2).sum(-1)
    near = squared <= TOLERANCE**2 * squared.min(1, keepdims=True) * (1 + 1e-5)
    picks = near_match(queries, examples, np.random.default_rng(1))
    assert near[np.arange(len(queries)), picks].all()
    again = near_match(np.repeat(queries[:1], 400, 0), examples, np.random.default_rng(2))
    assert set(again) == set(np.flatnonzero(near[0]))  # each of the near ones, not always the same
    assert np.array_equal(near_match(queries, examples, np.random.default_rng(1)), picks)  # seeded


def test_a_smooth_fill_gets_the_photos_grain_and_nothing_else_changes():
    photo, hole = grainy_photo(), centre_hole()
    filled = soft_fill(photo, hole, 3)
    grained = add_photo_detail(filled, hole, seed=1)
    assert detail_ratio(filled, photo, hole) < 0.05
    assert 0.7 < detail_ratio(grained, photo, hole) < 1.3
    assert np.array_equal(grained[~hole], filled[~hole])
    assert abs(float((grained[hole] - filled[hole]).mean())) < 1.0  # grain, not a shift in colour
    assert np.array_equal(add_photo_detail(filled, hole, seed=1), grained)  # reproducible


def striped_photo(size: int = 120, seed: int = 0) -> np.ndarray:
    """Vertical stripes of random widths and shades (sharp edges, all alike in direction) and a little grain."""
    rng = np.random.default_rng(seed)
    shades = np.repeat(rng.uniform(40, 220, size), rng.integers(3, 9, size))[:size]
    photo = np.repeat(shades[None, :, None], size, 0) * np.array([1.0, 0.85, 0.7])
    return (photo + rng.normal(0, 0.5, photo.shape)).astype(np.float32)


def test_the_detail_sharpens_the_fills_edges_where_they_are():
    """Noise of the photo's spectrum (the method before this one) would move the fill away from the truth."""
    photo, hole = striped_photo(), centre_hole()
    filled = soft_fill(photo, hole, 1.0)
    sharpened = add_photo_detail(filled, hole)
    assert detail_ratio(filled, photo, hole) < 0.2 < 0.5 < detail_ratio(sharpened, photo, hole)
    assert hole_error(sharpened, photo, hole) < 0.9 * hole_error(filled, photo, hole)


def test_a_fill_as_grainy_as_the_photo_stays_as_grainy():
    photo, hole = grainy_photo(), centre_hole()
    filled = photo.copy()
    filled[hole] = grainy_photo(seed=5)[hole]  # another draw of the same grain
    assert 0.8 < detail_ratio(add_photo_detail(filled, hole), photo, hole) < 1.2


@pytest.mark.parametrize("seed", [0, 1])
def test_a_thin_stroke_keeps_most_of_a_right_fills_own_detail(seed):
    """Next to the known pixels the blend pins the fill to the photo, so its own fine band is right there: a stroke
    3 px wide that the fill got exactly right keeps it (swapping half of it for copied grain doubled the error)."""
    photo = grainy_photo(seed=seed)
    stroke = np.zeros(photo.shape[:2], bool)
    stroke[60:63, 20:100] = True
    grained = add_photo_detail(photo, stroke, seed)
    assert hole_error(grained, photo, stroke) < 0.5 * 6.0**2
    assert detail_ratio(grained, photo, stroke) > 0.8


def test_a_smooth_photo_gives_a_smooth_fill():
    photo, hole = grainy_photo(sigma=0.0), centre_hole()
    filled = soft_fill(photo, hole, 3)
    np.testing.assert_allclose(add_photo_detail(filled, hole), filled, atol=0.5)


@pytest.mark.parametrize("side", [20, int(np.sqrt(MAX_MATCHES)) + 60])
def test_a_hole_larger_than_the_matches_copies_blocks_and_keeps_the_grain(side):
    size = side + 80
    photo, hole = grainy_photo(size=size), centre_hole(size, side)
    grained = add_photo_detail(soft_fill(photo, hole, 3), hole)
    assert 0.7 < detail_ratio(grained, photo, hole) < 1.3
