"""The training input pipeline: a folder of face images -> batches in [-1, 1]."""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from core.align import find_images


def list_images(folder: str | Path) -> tuple[list[str], int]:
    """Image files under folder (none that a symlink leads out of it) whose headers read, and how many were skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Dataset folder {folder} does not exist.")
    good, skipped = [], 0
    for path in find_images(folder):
        try:
            with Image.open(path) as image:
                image.size  # header only
            good.append(str(path))
        except (UnidentifiedImageError, OSError):
            skipped += 1
    if not good:
        raise ValueError(f"Dataset folder {folder} holds no readable images ({skipped} unreadable).")
    return good, skipped


def _decode(path: tf.Tensor, size: int) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape((None, None, 3))
    return tf.cast(tf.image.resize(image, (size, size), antialias=True), tf.uint8)


def face_dataset(paths: list[str], image_size: int, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """Decode once (cached as uint8), then shuffle, repeat, batch and scale to [-1, 1].

    Files that fail to decode are dropped (their count is in list_images' skip count
    when the header is already bad; a truncated body is dropped here with a warning).
    """
    return (
        tf.data.Dataset.from_tensor_slices(paths)
        .map(lambda p: _decode(p, image_size), num_parallel_calls=tf.data.AUTOTUNE)
        .ignore_errors(log_warning=True)
        .cache()
        .shuffle(min(len(paths), 20_000), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .map(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def with_latents(dataset: tf.data.Dataset, z_dim: int, seed: int = 0) -> tf.data.Dataset:
    """Each batch of faces paired with its own z ~ U[-1, 1]^z_dim, drawn in the input pipeline (seeded by the
    batch's index), so that under tf.distribute every replica gets the z of its own share of the batch."""
    def pair(index, faces):
        shape = tf.stack([tf.shape(faces)[0], z_dim])
        return faces, tf.random.stateless_uniform(shape, tf.stack([tf.cast(seed, tf.int64), index]), -1.0, 1.0)

    return dataset.enumerate().map(pair, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
