"""Walking z-space: interpolation and the DCGAN paper's face algebra."""
from __future__ import annotations

import numpy as np


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between two z (White 2016); straight line when they are parallel."""
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolate(a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
    """steps z from a to b inclusive, (steps, z_dim)."""
    return np.stack([slerp(a, b, t) for t in np.linspace(0.0, 1.0, steps)]).astype(np.float32)


def face_algebra(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, variations: int = 4, noise: float = 0.15, seed: int = 0
) -> np.ndarray:
    """mean(A) - mean(B) + mean(C), then a few noisy variations of it, as in Radford et al.

    Each of a, b, c is (n_i, z_dim) with n_i >= 1. Returns (1 + variations, z_dim),
    clipped to the generator's [-1, 1] cube.
    """
    for name, group in (("A", a), ("B", b), ("C", c)):
        if len(group) == 0:
            raise ValueError(f"Pick at least one face for concept {name}.")
    result = a.mean(axis=0) - b.mean(axis=0) + c.mean(axis=0)
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(-noise, noise, (variations, result.shape[0]))
    return np.clip(np.vstack([result, result + jitter]), -1.0, 1.0).astype(np.float32)


def project_2d(z: np.ndarray) -> np.ndarray:
    """Principal-component projection of z vectors to 2-D, for plotting (n, 2)."""
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T
