"""The photo's own grain in a filled hole (core.grain), on a synthetic photo of known grain."""
import cv2
import numpy as np

from core.grain import add_grain, detail_ratio


def grainy_photo(sigma: float = 6.0, size: int = 120, seed: int = 0) -> np.ndarray:
    """A smooth colour ramp plus Gaussian grain of sigma grey levels (float32)."""
    ramp = np.linspace(60, 190, size, dtype=np.float32)
    base = np.stack([ramp[None, :].repeat(size, 0), ramp[:, None].repeat(size, 1), np.full((size, size), 120.0)], -1)
    return (base + np.random.default_rng(seed).normal(0, sigma, base.shape)).astype(np.float32)


def centre_hole(size: int = 120, side: int = 40) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[(size - side) // 2 : (size + side) // 2, (size - side) // 2 : (size + side) // 2] = True
    return hole


def test_detail_ratio_is_one_for_the_truth_and_small_for_a_blur():
    photo, hole = grainy_photo(), centre_hole()
    assert detail_ratio(photo, photo, hole) == 1.0
    assert detail_ratio(cv2.GaussianBlur(photo, (0, 0), 3), photo, hole) < 0.05


def test_a_smooth_fill_gets_the_photos_grain_and_nothing_else_changes():
    photo, hole = grainy_photo(), centre_hole()
    filled = photo.copy()
    filled[hole] = cv2.GaussianBlur(photo, (0, 0), 3)[hole]  # a smooth fill, as an enlarged G(z) is
    grained = add_grain(photo, filled, hole, seed=1)
    assert detail_ratio(filled, photo, hole) < 0.05
    assert 0.7 < detail_ratio(grained, photo, hole) < 1.3
    assert np.array_equal(grained[~hole], filled[~hole])
    assert abs(float((grained[hole] - filled[hole]).mean())) < 1.0  # grain, not a shift in colour
    assert np.array_equal(add_grain(photo, filled, hole, seed=1), grained)  # reproducible


def test_a_fill_as_grainy_as_the_photo_gets_next_to_none():
    photo, hole = grainy_photo(), centre_hole()
    filled = photo.copy()
    filled[hole] = grainy_photo(seed=5)[hole]  # another draw of the same grain
    grained = add_grain(photo, filled, hole)
    assert detail_ratio(grained, photo, hole) < 1.1 * detail_ratio(filled, photo, hole)  # only estimation noise


def test_a_smooth_photo_gives_a_smooth_fill_no_grain():
    photo, hole = grainy_photo(sigma=0.0), centre_hole()
    filled = photo.copy()
    filled[hole] = 128.0
    np.testing.assert_allclose(add_grain(photo, filled, hole), filled, atol=1e-3)
