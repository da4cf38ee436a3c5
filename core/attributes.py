"""Measuring a face: smile, mouth open, eyes closed, brows raised, head yaw, age and gender.

Expressions are mediapipe's face blendshape scores (0 to 1), yaw comes from the face
transformation matrix that mediapipe fits to the landmarks (degrees, positive = the face
turns towards the image's left), and age and gender from a small CNN trained on UTKFace's
labelled faces (its labels are in the file names), aligned as the app aligns faces.

The meter measures G's samples, so that directions in z can be fitted where z is known
exactly, and measures edited faces, so that each direction's effect is checked by
something other than the classifier that found it.

CLI: python -m core.attributes ../shared/data/utkface --weights weights --limit 8000
     (aligns that many labelled faces, trains the age and gender CNN into the weights folder)
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.align import bordered, landmarker_model_path
from core.cli import argument_parser
from core.images import to_model
from core.realism import upscaled
from core.weights import MODEL_JSON, WeightsError, atomic_write, read_model_json, write_json

ATTRIBUTES = ("smile", "mouth_open", "eyes_closed", "brows_raised", "yaw", "age", "female")
"""What the meter measures, in this order; age in years, female as a probability, the rest as below."""

BLENDSHAPES = {  # each expression is the mean of these blendshape scores
    "smile": ("mouthSmileLeft", "mouthSmileRight"),
    "mouth_open": ("jawOpen",),
    "eyes_closed": ("eyeBlinkLeft", "eyeBlinkRight"),
    "brows_raised": ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"),
}
AGE_GENDER_FILE = "age_gender.weights.h5"
UTKFACE_NAME = re.compile(r"^(\d{1,3})_([01])_")  # [age]_[gender]_[race]_[date].jpg, gender 0 male, 1 female


def utkface_labels(name: str) -> tuple[float, float] | None:
    """(age in years, 1.0 if female) from a UTKFace file name, or None when the name holds no labels."""
    match = UTKFACE_NAME.match(Path(name).name)
    if not match or not 0 < int(match[1]) <= 116:
        return None
    return float(match[1]), float(match[2])


def yaw_degrees(matrix: np.ndarray) -> float:
    """Head yaw in degrees from mediapipe's 4x4 face transformation matrix (rotation about the vertical axis)."""
    rotation = np.asarray(matrix)[:3, :3]
    return float(np.degrees(np.arctan2(rotation[0, 2], rotation[2, 2])))


def build_age_gender(size: int) -> keras.Model:
    """A small CNN: aligned face in [-1, 1] -> (age / 100, female logit)."""
    face = keras.Input((size, size, 3), name="face")
    x = face
    for width in (32, 64, 128, 256):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(face, keras.layers.Dense(2)(x), name="age_gender")


def age_gender_loss(target: tf.Tensor, predicted: tf.Tensor) -> tf.Tensor:
    """Huber on age / 100 plus the logistic loss of female."""
    age = keras.losses.huber(target[:, :1], predicted[:, :1], delta=0.1)
    gender = keras.losses.binary_crossentropy(target[:, 1:], predicted[:, 1:], from_logits=True)
    return 10 * age + gender


def train_age_gender(faces: np.ndarray, ages: np.ndarray, females: np.ndarray, epochs: int = 12,
                     seed: int = 0, verbose: int | str = "auto") -> tuple[keras.Model, dict[str, float]]:
    """Train the CNN on uint8 aligned faces; returns it and its held-out (20%) age MAE and gender accuracy."""
    keras.utils.set_random_seed(seed)
    order = np.random.default_rng(seed).permutation(len(faces))
    cut = int(len(order) * 0.8)
    targets = np.stack([ages / 100.0, females], axis=1).astype(np.float32)
    x = to_model(faces)

    def dataset(index: np.ndarray, train: bool) -> tf.data.Dataset:
        data = tf.data.Dataset.from_tensor_slices((x[index], targets[index]))
        if train:
            data = data.shuffle(len(index), seed=seed).map(lambda f, t: (tf.image.random_flip_left_right(f), t))
        return data.batch(64).prefetch(tf.data.AUTOTUNE)

    model = build_age_gender(faces.shape[1])
    model.compile(keras.optimizers.Adam(1e-3), loss=age_gender_loss)
    model.fit(dataset(order[:cut], True), epochs=epochs, verbose=verbose)
    predicted = model.predict(x[order[cut:]], batch_size=256, verbose=0)
    held_out = {
        "age_mae_years": float(np.mean(np.abs(predicted[:, 0] * 100 - ages[order[cut:]]))),
        "gender_accuracy": float(np.mean((predicted[:, 1] > 0) == (females[order[cut:]] > 0.5))),
        "train_faces": int(cut), "held_out_faces": int(len(order) - cut),
    }
    return model, held_out


def load_age_gender(folder: str | Path, size: int) -> keras.Model | None:
    """The age and gender CNN of a weights folder, or None when it has none."""
    path = Path(folder) / AGE_GENDER_FILE
    if not path.is_file():
        return None
    model = build_age_gender(size)
    try:
        model.load_weights(path)
    except (ValueError, OSError, KeyError) as err:
        raise WeightsError(f"{path} does not fit a {size}x{size} age and gender model: {err}") from err
    return model


@dataclass
class FaceMeter:
    """Measures ATTRIBUTES of aligned uint8 faces; NaN where mediapipe finds no face or no CNN is loaded."""

    age_gender: keras.Model | None = None

    def __post_init__(self) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(landmarker_model_path())), num_faces=1,
            output_face_blendshapes=True, output_facial_transformation_matrixes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> "FaceMeter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def measure(self, faces: np.ndarray) -> np.ndarray:
        """(N, len(ATTRIBUTES)) float64 for uint8 faces (N, S, S, 3)."""
        import mediapipe as mp

        faces = np.asarray(faces)
        out = np.full((len(faces), len(ATTRIBUTES)), np.nan)
        for i, face in enumerate(faces):
            for _, padded in bordered(upscaled(face)):
                result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=padded))
                if result.face_blendshapes:
                    break
            else:
                continue
            scores = {b.category_name: b.score for b in result.face_blendshapes[0]}
            for j, names in enumerate(BLENDSHAPES.values()):
                out[i, j] = np.mean([scores[n] for n in names])
            out[i, ATTRIBUTES.index("yaw")] = yaw_degrees(result.facial_transformation_matrixes[0])
        if self.age_gender is not None and len(faces):
            predicted = self.age_gender.predict(to_model(faces), batch_size=256, verbose=0)
            out[:, ATTRIBUTES.index("age")] = predicted[:, 0] * 100
            out[:, ATTRIBUTES.index("female")] = 1 / (1 + np.exp(-predicted[:, 1]))
        return out


def labelled_faces(folder: Path, size: int, limit: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Align up to limit UTKFace photos (a seeded random choice); returns faces, (age, female) labels and names."""
    from rich.progress import track

    from core.align import AlignmentError, FaceAligner, find_images
    from core.images import ImageError, read_image

    paths = [p for p in find_images(folder) if utkface_labels(p.name) is not None]
    if not paths:
        raise ValueError(f"No UTKFace-named photos ([age]_[gender]_[race]_[date].jpg) under {folder}.")
    if limit and limit < len(paths):
        paths = [paths[i] for i in sorted(np.random.default_rng(seed).choice(len(paths), limit, replace=False))]
    faces, labels, names = [], [], []
    with FaceAligner(max_faces=1) as aligner:
        for path in track(paths, description=f"aligning {folder}"):
            try:
                faces.append(aligner.align(read_image(path), size).face)
            except (ImageError, AlignmentError):
                continue
            labels.append(utkface_labels(path.name))
            names.append(path.name)
    return np.stack(faces), np.array(labels, np.float32), names


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("Train the age and gender meter on UTKFace's labelled faces.")
    parser.add_argument("folder", type=Path, help="UTKFace photos ([age]_[gender]_[race]_[date].jpg)")
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="model folder; the meter is written there")
    parser.add_argument("--limit", type=int, default=8000, help="faces to align and train on (0: all)")
    parser.add_argument("--epochs", type=int, default=12, help="passes over the training faces")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    try:
        meta = read_model_json(args.weights)
        faces, labels, _ = labelled_faces(args.folder, meta["config"].image_size, args.limit)
    except (ValueError, WeightsError) as err:
        parser.exit(2, f"error: {err}\n")
    start = time.perf_counter()
    model, held_out = train_age_gender(faces, labels[:, 0], labels[:, 1], args.epochs)
    atomic_write(args.weights / AGE_GENDER_FILE, model.save_weights)
    card = {**meta.get("card", {}), "age_gender": {
        **held_out, "epochs": args.epochs, "wall_seconds": round(time.perf_counter() - start),
        "trained": date.today().isoformat(), "data": str(args.folder),
        "command": f"python -m core.attributes {args.folder} --weights {args.weights} --limit {args.limit}",
    }}
    write_json(args.weights / MODEL_JSON, {**meta, "config": meta["config"].to_dict(), "card": card})
    print(f"wrote {args.weights / AGE_GENDER_FILE}: held-out age MAE {held_out['age_mae_years']:.1f} years, "
          f"gender accuracy {held_out['gender_accuracy']:.1%}")


if __name__ == "__main__":
    main()
