"""The canvas a hole is painted on (a Streamlit component: brush, eraser, rectangle, undo, redo, clear).

It shows the picture at its own pixels, shrunk to the page's width on a narrow screen (a phone), and
gives back what is painted at the picture's size, whatever size it was shown at.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

TOOLS = {"brush": "Brush", "eraser": "Eraser", "rect": "Rectangle"}
_HERE = Path(__file__).parent
_canvas = st.components.v2.component(
    "facefill.mask_canvas",
    js=(_HERE / "mask_canvas.js").read_text(),
    css=(_HERE / "mask_canvas.css").read_text(),
)


def _data_url(picture: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def painted_alpha(png_data_url: str, shape: tuple[int, int]) -> np.ndarray:
    """The painted hole as an (H, W) uint8 alpha (0 = not painted) from the canvas's PNG data URL."""
    encoded = png_data_url.partition("base64,")[2]
    image = Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGBA")
    if image.size != (shape[1], shape[0]):
        raise ValueError(f"The painted mask is {image.size[0]}x{image.size[1]}; the picture is {shape[1]}x{shape[0]}.")
    return np.asarray(image)[..., 3]


def paint_hole(picture: np.ndarray, key: str, tool: str, brush: int) -> np.ndarray | None:
    """Show picture (H, W, 3 uint8) to paint on; the painted alpha (H, W uint8), or None before any stroke.

    key names this picture's painting: the strokes stay while the key does (across reruns and tool changes)."""
    height, width = picture.shape[:2]
    result = _canvas(
        key=key,
        data={"id": key, "image": _data_url(picture), "width": width, "height": height, "tool": tool, "brush": brush},
        on_mask_change=lambda: None,
    )
    painted = getattr(result, "mask", None)
    if not painted:
        return None
    return painted_alpha(painted["png"], (height, width))
