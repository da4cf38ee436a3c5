import numpy as np
import pytest

from core.latent import face_algebra, interpolate, project_2d, slerp


def test_slerp_ends_and_keeps_the_radius():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=100), rng.normal(size=100)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-9)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-9)
    assert np.linalg.norm(slerp(a, b, 0.5)) == pytest.approx(np.linalg.norm(a))
    assert np.linalg.norm((a + b) / 2) < np.linalg.norm(a)  # where a straight line would shrink
    np.testing.assert_allclose(slerp(a, a, 0.3), a)  # parallel vectors: no division by zero


def test_interpolate_shape():
    path = interpolate(np.ones(8), -np.ones(8) + 0.1, 5)
    assert path.shape == (5, 8) and path.dtype == np.float32


def test_face_algebra_is_mean_a_minus_mean_b_plus_mean_c():
    a = np.array([[0.2, 0.4], [0.4, 0.0]])
    b = np.array([[0.1, 0.1]])
    c = np.array([[0.0, -0.2], [0.2, 0.0], [0.1, 0.2]])
    result = face_algebra(a, b, c, variations=3, noise=0.05)
    np.testing.assert_allclose(result[0], [0.3 - 0.1 + 0.1, 0.2 - 0.1 + 0.0], atol=1e-6)
    assert result.shape == (4, 2)
    assert np.abs(result[1:] - result[0]).max() <= 0.05 + 1e-6
    assert np.abs(face_algebra(np.ones((1, 2)), -np.ones((1, 2)), np.ones((1, 2)))).max() <= 1.0


def test_face_algebra_needs_every_concept():
    with pytest.raises(ValueError, match="concept B"):
        face_algebra(np.ones((1, 2)), np.zeros((0, 2)), np.ones((1, 2)))


def test_projection_keeps_the_widest_direction_first():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(50, 10)) * np.array([5.0] + [0.1] * 9)
    points = project_2d(z)
    assert points.shape == (50, 2)
    assert points[:, 0].std() > 10 * points[:, 1].std()
