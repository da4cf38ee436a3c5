"""Reading untrusted image files into RGB arrays, and converting to/from model range."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # refuse larger images before decoding them (decompression bombs)
MAX_SIDE = 2048  # larger photos are downscaled on load so memory stays bounded
MIN_SIDE = 16
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")


class ImageError(ValueError):
    """An image that cannot be used, with a message fit to show a user."""


def read_image(source: str | Path | bytes, name: str | None = None, alpha: bool = False,
               min_side: int = MIN_SIDE) -> np.ndarray:
    """Decode a file or bytes into an RGB uint8 array (H, W, 3); RGBA (H, W, 4) with alpha=True.

    Grayscale, palette, RGBA, CMYK and 16-bit images are converted; animated
    images use their first frame; EXIF rotation is applied; photos larger than
    MAX_SIDE are downscaled. Anything else raises ImageError with a reason.
    """
    if isinstance(source, (bytes, bytearray)):
        label, data = name or "upload", bytes(source)
        if not data:
            raise ImageError(f"{label} is empty.")
        opener = io.BytesIO(data)
    else:
        label = name or str(source)
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{label} does not exist or is not a file.")
        if path.stat().st_size == 0:
            raise ImageError(f"{label} is empty.")
        opener = path
    try:
        with Image.open(opener) as image:
            if image.format not in FORMATS:
                raise ImageError(f"{label} is a {image.format} image; use JPEG, PNG or WebP.")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"{label} is {width}x{height} pixels, more than the {MAX_PIXELS:,} allowed."
                )
            if min(width, height) < min_side:
                raise ImageError(f"{label} is only {width}x{height} pixels; a face needs at least {min_side}.")
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at reduced scale
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                image = Image.fromarray((np.asarray(image, np.float32) / 257).clip(0, 255).astype(np.uint8))
            rgb = image.convert("RGBA" if alpha else "RGB")
            rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            return np.asarray(rgb, dtype=np.uint8).copy()
    except ImageError:
        raise
    except UnidentifiedImageError as err:  # PIL's message names an in-memory buffer, not the file
        raise ImageError(f"{label} is not a readable image: use JPEG, PNG or WebP.") from err
    except Image.DecompressionBombError as err:
        raise ImageError(f"{label} is not a readable image ({err}).") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{label} is damaged or truncated ({err}).") from err


def to_model(image: np.ndarray) -> np.ndarray:
    """uint8 RGB in [0, 255] -> float32 in [-1, 1]."""
    return image.astype(np.float32) / 127.5 - 1.0


def to_uint8(image) -> np.ndarray:
    """float in [-1, 1] -> uint8 RGB."""
    return np.clip((np.asarray(image) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """Tile N uint8 images (N, H, W, 3) into one grid image."""
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w, c), dtype=images.dtype)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = image
    return grid


def save_png(path: str | Path, image: np.ndarray) -> None:
    Image.fromarray(image).save(path)


def save_gif(path: str | Path | io.BytesIO, frames: list[np.ndarray], duration_ms: int = 120, scale: int = 2) -> None:
    """An animated GIF of uint8 frames (enlarged by scale so a 64 px face is visible)."""
    images = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.Resampling.NEAREST) for f in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
