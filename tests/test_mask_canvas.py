"""The painting canvas's answer (a PNG data URL whose alpha is the hole) becomes the hole at the picture's size."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from pages.mask_canvas import painted_alpha


def data_url(rgba: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_the_painted_alpha_is_the_hole():
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[10:20, 5:15] = (255, 255, 255, 255)
    rgba[12, 30] = (255, 255, 255, 90)  # an antialiased edge counts as painted
    alpha = painted_alpha(data_url(rgba), (30, 40))
    assert alpha.shape == (30, 40)
    assert np.array_equal(alpha > 0, rgba[..., 3] > 0)


def test_a_painting_of_another_size_is_refused():
    with pytest.raises(ValueError, match="40x30.*the picture is 30x40"):
        painted_alpha(data_url(np.zeros((30, 40, 4), np.uint8)), (40, 30))
