"""How real do a generator's samples look? Two checks, on the same z for every model compared.

python -m core.realism --weights weights runs/ema/model --real data/aligned --samples 1000 --grid samples.png

- Faces found: how often mediapipe's FaceLandmarker finds a face in a sample (no reference needed).
- Sliced Wasserstein distance (Karras et al., "Progressive Growing of GANs", 2018): the distance between
  the distributions of 7x7 patches of samples and of real faces, at each level of a Laplacian pyramid
  (64 px: fine texture; 16 px: the face's layout). Lower is better; two disjoint sets of real faces
  give the floor that estimation noise leaves.
- Fine detail: the samples' energy in the finest band (core.detail.high_band) over real faces', as drawn and below
  the Nyquist frequency (core.detail.without_checkerboard). Where the first is much above the second, much of the
  finest band is a stride-2 transposed convolution's checkerboard rather than texture.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.align import FaceAligner
from core.cli import argument_parser
from core.data import list_images
from core.detail import high_band, without_checkerboard
from core.images import image_grid, read_image, save_png, to_uint8
from core.model import sample_z
from core.weights import TrainedModel, WeightsError, load_models

DETECT_SIDE = 256  # the detector wants more than 64 pixels; samples are upscaled first
PATCH = 7  # the side of the patches SWD compares, and the coarsest level's side, as in Karras et al.
COARSEST = 16


def upscaled(image: np.ndarray, side: int = DETECT_SIDE) -> np.ndarray:
    """A small face enlarged (bicubic) to side x side, so mediapipe can see it."""
    return np.ascontiguousarray(cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC))


def faces_found(aligner: FaceAligner, images: np.ndarray) -> np.ndarray:
    """(N,) bool: does FaceLandmarker find a face in each small uint8 face image?"""
    return np.array([bool(aligner.landmarks(upscaled(image))) for image in images], bool)


def generate(model: TrainedModel, samples: int, seed: int = 0, batch: int = 100, size: int | None = None) -> np.ndarray:
    """samples uint8 images from G, in batches; the same seed gives every model the same z.
    size: enlarged (bicubic) to size x size, to compare a smaller model with a larger one as a user sees it."""
    images = np.concatenate([
        to_uint8(model.generator(sample_z(min(batch, samples - start), model.config.z_dim, seed + start),
                                 training=False).numpy())
        for start in range(0, samples, batch)
    ])
    if size and size != model.config.image_size:
        images = np.stack([upscaled(image, size) for image in images])
    return images


def detection_rate(model: TrainedModel, samples: int = 1000, seed: int = 0, batch: int = 100) -> float:
    """Fraction of generated samples in which FaceLandmarker finds a face with landmarks."""
    with FaceAligner(max_faces=1) as aligner:
        return float(faces_found(aligner, generate(model, samples, seed, batch)).mean())


def fine_detail(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    """fake's mean energy in the finest band over real's (uint8 images of one size): as drawn, and both below the
    Nyquist frequency. 1.0 = as much fine detail as real faces."""
    def energy(images: np.ndarray, filtered: bool) -> float:
        return float(np.mean([(high_band(without_checkerboard(i) if filtered else i) ** 2).mean() for i in images]))

    return tuple(energy(fake, filtered) / energy(real, filtered) for filtered in (False, True))


def laplacian_pyramid(images: np.ndarray, levels: int) -> list[np.ndarray]:
    """Per image (N, H, W, 3): the Laplacian bands, finest first, then the coarsest Gaussian level (float32)."""
    bands, current = [], images.astype(np.float32)
    for _ in range(levels - 1):
        smaller = np.stack([cv2.pyrDown(image) for image in current])
        size = current.shape[2], current.shape[1]
        bands.append(current - np.stack([cv2.pyrUp(image, dstsize=size) for image in smaller]))
        current = smaller
    return bands + [current]


def patch_descriptors(level: np.ndarray, per_image: int, rng: np.random.Generator) -> np.ndarray:
    """per_image random 7x7x3 patches from each image, flattened, each channel scaled to mean 0 and SD 1."""
    n, h, w, _ = level.shape
    half = PATCH // 2
    offsets = np.arange(-half, half + 1)
    rows = rng.integers(half, h - half, (n, per_image))[..., None, None] + offsets[:, None]
    cols = rng.integers(half, w - half, (n, per_image))[..., None, None] + offsets[None, :]
    patches = level[np.arange(n)[:, None, None, None], rows, cols].reshape(n * per_image, PATCH * PATCH, 3)
    patches = (patches - patches.mean(axis=(0, 1))) / (patches.std(axis=(0, 1)) + 1e-8)
    return patches.reshape(n * per_image, -1)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, projections: int = 512,
                       repeats: int = 4) -> float:
    """The mean 1-D Wasserstein distance between a and b (equal counts of descriptors) over random unit directions."""
    distances = []
    for _ in range(repeats):
        directions = rng.standard_normal((a.shape[1], projections)).astype(np.float32)
        directions /= np.linalg.norm(directions, axis=0)
        distances.append(np.abs(np.sort(a @ directions, axis=0) - np.sort(b @ directions, axis=0)).mean())
    return float(np.mean(distances))


def swd(real: np.ndarray, fake: np.ndarray, per_image: int = 128, seed: int = 0) -> dict[int, float]:
    """SWD x 1000 between two equal-sized sets of uint8 images, by pyramid level side in pixels (down to 16)."""
    if len(real) != len(fake):
        raise ValueError(f"SWD compares equal numbers of images, got {len(real)} and {len(fake)}")
    levels = max(1, int(np.log2(real.shape[1] / COARSEST)) + 1)
    rng = np.random.default_rng(seed)
    result = {}
    for real_level, fake_level in zip(laplacian_pyramid(real, levels), laplacian_pyramid(fake, levels)):
        a, b = patch_descriptors(real_level, per_image, rng), patch_descriptors(fake_level, per_image, rng)
        result[real_level.shape[1]] = 1000 * sliced_wasserstein(a, b, rng)
    return result


def by_level(distances: dict[int, float]) -> str:
    """swd()'s figures as '64 px 15.4, 32 px 17.1, 16 px 33.3'."""
    return ", ".join(f"{side} px {value:.1f}" for side, value in distances.items())


def real_faces(folder: Path, count: int, size: int, seed: int = 0) -> np.ndarray:
    """A seeded random count of the model-sized (aligned) images in folder."""
    paths, _ = list_images(folder)
    chosen = np.random.default_rng(seed).permutation(len(paths))
    faces = [face for face in (read_image(paths[i]) for i in chosen[: 2 * count]) if face.shape[:2] == (size, size)]
    if len(faces) < count:
        raise ValueError(f"{folder} has {len(faces)} aligned {size}x{size} faces; {count} are needed (see core.align)")
    return np.stack(faces[:count])


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, nargs="+", default=[Path("weights")],
                        help="model folders to compare; a smaller model's samples are enlarged (bicubic) to the largest's size")
    parser.add_argument("--samples", type=int, default=1000, help="samples per model (and real faces per set)")
    parser.add_argument("--seed", type=int, default=0, help="seed of z (the same for every model) and of the patches")
    parser.add_argument("--real", type=Path, help="folder of aligned real faces (core.align): also measure SWD")
    parser.add_argument("--grid", type=Path, help="write up to 8 samples of each model, same z, one row per model")
    args = parser.parse_args(argv)
    try:
        models = load_models(args.weights, same_size=False)
    except WeightsError as err:
        parser.exit(2, f"error: {err}\n")
    size = max(model.config.image_size for model in models.values())  # smaller models' samples are enlarged to it
    real = None
    if args.real:
        try:
            real = real_faces(args.real, 2 * args.samples, size, args.seed)
        except (ValueError, FileNotFoundError) as err:
            parser.exit(2, f"error: {err}\n")
        floor = swd(real[: args.samples], real[args.samples:], seed=args.seed)
        print(f"SWD x 1e3 between two sets of {args.samples} real faces (the floor): {by_level(floor)}")
    rows = []
    with FaceAligner(max_faces=1) as aligner:
        for folder, model in models.items():
            images = generate(model, args.samples, args.seed, size=size)
            rows.append(images[:8])
            line = f"{folder}: mediapipe found a face in {faces_found(aligner, images).mean():.1%} of {args.samples} samples"
            if real is not None:
                distances = swd(real[: args.samples], images, seed=args.seed)
                line += f"; SWD x 1e3 {by_level(distances)} (mean {np.mean(list(distances.values())):.1f})"
                drawn, below_nyquist = fine_detail(real[: args.samples], images)
                line += f"; fine detail {drawn:.2f} of real faces' ({below_nyquist:.2f} below Nyquist)"
            print(line, flush=True)
    if args.grid:
        save_png(args.grid, image_grid(np.concatenate(rows), columns=len(rows[0])))
        print(f"samples: {args.grid} (rows: {', '.join(map(str, models))})")


if __name__ == "__main__":
    main()
