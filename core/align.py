"""Face alignment: put the inner eye corners and the bottom lip on fixed points.

Like OpenFace's `innerEyesAndBottomLip` (used by the original write-up with
dlib), but with mediapipe's FaceLandmarker. The affine map is kept so that a
completed face can be pasted back into the original photo.

CLI: python -m core.align RAW_DIR OUT_DIR --size 64
"""
from __future__ import annotations

import os
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from core.cli import argument_parser
from core.images import ImageError, read_image, save_png

# mediapipe face-mesh indices: inner corner of the eye on the image's left,
# inner corner of the eye on the image's right, bottom of the lower lip.
LANDMARKS = (133, 362, 17)
NOSE_TIP = 1
# Where OpenFace's template puts dlib points 39, 42 and 57, as fractions of the frame.
TEMPLATE = np.array([[0.36378, 0.17795], [0.61896, 0.17278], [0.50020, 0.75058]], np.float32)
MIN_FACE_PIXELS = 20  # eye-to-lip distance below this is too small to use
MIN_FACE_HEIGHT = 2 * MIN_FACE_PIXELS  # px, forehead to chin: a face is about twice as tall as its eyes are above its lip
NO_FACE = (f"No face was found in this photo. FaceFill finds a face that looks at the camera, is not covered, and is "
           f"at least {MIN_FACE_HEIGHT} px tall (forehead to chin).")
MAX_YAW_RATIO = 2.5  # nose much closer to one eye than the other: a profile
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
LANDMARKER_MODEL = Path(__file__).resolve().parent.parent / "models" / "face_landmarker.task"
MIN_TILE = 160  # px: a face the detector finds in a smaller tile is too small to align anyway


class AlignmentError(ValueError):
    """No usable face: `reason` is a short key (no_face, too_small, profile)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class Alignment:
    """An aligned face and the affine map (2x3) from the photo to the face."""

    face: np.ndarray
    matrix: np.ndarray
    landmarks: np.ndarray  # the three anchor points in photo pixels
    mesh: np.ndarray | None = None  # all the face's landmarks (478, 2), in the aligned face's pixels

    @property
    def photo_per_model(self) -> float:
        """Photo pixels per model pixel: above 1 the face is larger in the photo than in the model, and a fill is
        enlarged into the photo; below 1 it is shrunk."""
        return float(1 / np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))


def landmarker_model_path() -> Path:
    """The FaceLandmarker model (models/face_landmarker.task, shipped in the repository), or FACEFILL_LANDMARKER."""
    path = Path(os.environ.get("FACEFILL_LANDMARKER") or LANDMARKER_MODEL)
    if not path.is_file():
        raise RuntimeError(f"The face landmark model {path} is missing (see models/README.md).")
    return path


class FaceAligner:
    """Finds faces with mediapipe and warps them onto the template. Thread-safe."""

    def __init__(self, max_faces: int = 5):
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(landmarker_model_path())),
            num_faces=max_faces,
            min_face_detection_confidence=0.5,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self._lock = threading.Lock()
        self.max_faces = max_faces

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> "FaceAligner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def landmarks(self, image: np.ndarray) -> list[np.ndarray]:
        """All faces' landmarks in pixels (one (478, 2) array per face), largest first.

        Tight crops are retried with a border, which the detector needs to see a face. The
        detector sees only faces wider than about a fifth of its input, so the photo is also
        searched in overlapping tiles (a half, a third, a quarter and a sixth of its longer side) when
        it may hold several faces, or when no face was found whole: a face in a group photo or
        far from the camera is found there, and a face found twice is kept once.
        """
        faces = []
        for pad, padded in bordered(image):
            faces = [face - pad for face in self._detect(padded)]
            if faces:
                break
        if faces and self.max_faces == 1:
            return faces
        for rows, cols in tiles(image.shape[:2]):
            offset = np.array([cols.start, rows.start], np.float32)
            faces += [face + offset for face in self._detect(image[rows, cols])]
        return sorted(unique_faces(faces), key=lambda f: -np.ptp(f[:, 0]) * np.ptp(f[:, 1]))[: self.max_faces]

    def _detect(self, image: np.ndarray) -> list[np.ndarray]:
        import mediapipe as mp

        h, w = image.shape[:2]
        frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        with self._lock:
            result = self._landmarker.detect(frame)
        faces = [np.array([(p.x * w, p.y * h) for p in face], np.float32) for face in result.face_landmarks]
        return sorted(faces, key=lambda f: -np.ptp(f[:, 0]) * np.ptp(f[:, 1]))

    def _faces(self, image: np.ndarray) -> list[np.ndarray]:
        """The photo's faces' landmarks; raises AlignmentError, saying what would work, when there are none."""
        h, w = image.shape[:2]
        if min(h, w) < MIN_FACE_HEIGHT:
            raise AlignmentError("too_small", f"This photo is only {w}x{h} pixels: a face to fill must be at least "
                                              f"{MIN_FACE_HEIGHT} px tall. Use a larger photo.")
        faces = self.landmarks(image)
        if not faces:
            raise AlignmentError("no_face", NO_FACE)
        return faces

    def align(self, image: np.ndarray, size: int = 64, face_index: int = 0) -> Alignment:
        """Align one face of an RGB photo (the largest by default) to a size x size frame."""
        faces = self._faces(image)
        if face_index >= len(faces):
            raise AlignmentError("no_face", f"The photo has {len(faces)} face(s); there is no face {face_index + 1}.")
        return align_landmarks(image, faces[face_index], size)

    def align_all(self, image: np.ndarray, size: int = 64) -> list[Alignment]:
        """Every usable face in the photo, largest first (a group photo gives several).

        Raises the first face's AlignmentError when none is usable, so the reason can be shown.
        """
        faces = self._faces(image)
        aligned, errors = [], []
        for face in faces:
            try:
                aligned.append(align_landmarks(image, face, size))
            except AlignmentError as err:
                errors.append(err)
        if not aligned:
            raise errors[0]
        return aligned


def bordered(image: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(pad, image) to try in turn: the image, then with a replicated border a third of its height
    on every side, which the detector needs to see a face that fills a tight crop."""
    yield 0, image
    pad = image.shape[0] // 3
    yield pad, cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


def tiles(shape: tuple[int, int], fractions=(1 / 2, 1 / 3, 1 / 4, 1 / 6), min_side: int = MIN_TILE) -> list[tuple[slice, slice]]:
    """Overlapping square tiles (rows, cols) of an image: for each fraction of its longer side, a grid
    whose neighbours overlap by 40%, the last tile flush with the edge. Tiles under min_side are skipped."""
    h, w = shape
    found = []
    for fraction in fractions:
        side = int(max(h, w) * fraction)
        if side < min_side:
            break
        rows, cols = _tile_starts(h, side), _tile_starts(w, side)
        found += [(slice(y, y + side), slice(x, x + side)) for y in rows for x in cols]
    return found


def _tile_starts(length: int, side: int) -> list[int]:
    """Where tiles of side start along length: every 60% of a tile, the last flush with the end."""
    last = max(length - side, 0)
    return sorted({*range(0, last + 1, int(side * 0.6)), last})


def unique_faces(faces: list[np.ndarray]) -> list[np.ndarray]:
    """Faces in order, without one whose nose tip lies within a third of an earlier face's width of its nose."""
    kept: list[np.ndarray] = []
    for face in faces:
        if all(np.linalg.norm(face[NOSE_TIP] - other[NOSE_TIP]) > np.ptp(other[:, 0]) / 3 for other in kept):
            kept.append(face)
    return kept


def align_landmarks(image: np.ndarray, landmarks: np.ndarray, size: int) -> Alignment:
    """Warp image so that landmarks[LANDMARKS] land on TEMPLATE * size."""
    anchors = landmarks[list(LANDMARKS)]
    eye_to_lip = np.linalg.norm(anchors[2] - anchors[:2].mean(axis=0))
    if eye_to_lip < MIN_FACE_PIXELS:
        height = float(np.ptp(landmarks[:, 1]))
        needed = MIN_FACE_PIXELS * height / max(eye_to_lip, 1e-6)
        raise AlignmentError("too_small", f"The face is too small to fill: it is {height:.0f} px tall, and FaceFill needs "
                                          f"at least {needed:.0f} px (forehead to chin). Use a larger photo, or one "
                                          "taken closer.")
    to_eyes = np.linalg.norm(anchors[:2] - landmarks[NOSE_TIP], axis=1)
    if to_eyes.max() > MAX_YAW_RATIO * max(to_eyes.min(), 1e-6):
        raise AlignmentError("profile", "The face is turned sideways; use a photo facing the camera.")
    matrix = cv2.getAffineTransform(anchors, TEMPLATE * size)
    face = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return Alignment(face, matrix, anchors, cv2.transform(landmarks[None], matrix)[0])


def find_images(root: Path) -> list[Path]:
    """Image files under root, by name; a file or folder that a symlink leads out of root is left out."""
    inside = Path(root).resolve()
    found = []
    for path in Path(root).rglob("*"):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            resolved = path.resolve()
            if inside in resolved.parents:
                found.append(path)
    return sorted(found)


def align_folder(raw_dir: Path, out_dir: Path, size: int = 64,
                 progress: Callable[[int, int], None] | None = None) -> Counter:
    """Align every photo under raw_dir into flat PNGs in out_dir; returns counts by outcome.

    A photo of exactly size x size is taken as aligned already (as load_faces does), so aligning
    a folder of aligned faces keeps them. progress(done, total) is called after each photo.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = find_images(raw_dir)
    counts: Counter = Counter()
    with FaceAligner(max_faces=1) as aligner:
        for done, path in enumerate(paths, 1):
            name = "_".join(path.relative_to(raw_dir).with_suffix("").parts) + ".png"
            try:
                image = read_image(path)
                face = image if image.shape[:2] == (size, size) else aligner.align(image, size).face  # as load_faces
            except ImageError:
                counts["skipped: unreadable"] += 1
            except AlignmentError as err:
                counts[f"skipped: {err.reason}"] += 1
            else:
                save_png(out_dir / name, face)
                counts["aligned"] += 1
            if progress is not None:
                progress(done, len(paths))
    return counts


def load_faces(paths: Sequence[Path], size: int, aligner=None) -> tuple[list[np.ndarray], list, dict[Path, str]]:
    """Read photos; size x size images are taken as aligned, others are aligned first.

    Returns faces, the (photo, Alignment) of each (None for pre-aligned), and why each skipped path was skipped.
    An aligner is created only when a photo needs one, and closed again.
    """
    faces, alignments, errors = [], [], {}
    with ExitStack() as stack:
        for path in paths:
            try:
                image = read_image(path)
                if image.shape[:2] == (size, size):
                    faces.append(image)
                    alignments.append(None)
                    continue
                aligner = aligner or stack.enter_context(FaceAligner())
                alignment = aligner.align(image, size)
                faces.append(alignment.face)
                alignments.append((image, alignment))
            except (ImageError, AlignmentError) as err:
                errors[path] = str(err)
    return faces, alignments, errors


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("raw_dir", type=Path, help="folder tree of photos")
    parser.add_argument("out_dir", type=Path, help="where aligned PNGs are written (flat)")
    parser.add_argument("--size", type=int, default=64, help="output side in pixels")
    args = parser.parse_args(argv)
    if not args.raw_dir.is_dir():
        parser.error(f"{args.raw_dir} is not a folder")
    from rich.progress import Progress

    start = time.perf_counter()
    with Progress() as bar:
        task = bar.add_task(f"aligning {args.raw_dir}", total=None)
        counts = align_folder(args.raw_dir, args.out_dir, args.size,
                              lambda done, total: bar.update(task, completed=done, total=total))
    total = sum(counts.values())
    print(f"{total} photos in {time.perf_counter() - start:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
