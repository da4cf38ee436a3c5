"""Bad input meets a clear, specific message, never a traceback or a half-written file."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.align import AlignmentError, FaceAligner, align_landmarks
from core.face_filler import FaceFiller
from core.config import CompletionConfig
from core.data import list_images
from core.images import MAX_SIDE, ImageError, read_image
from core.masks import mask_from_canvas
from core.inpaint import FillRequest, complete_faces
from core.settings import Settings, SettingsError
from core.train import train
from core.weights import DISCRIMINATOR_FILE, GENERATOR_FILE, MODEL_JSON, WeightsError, load_model, save_model
from tests.helpers.cli import run_cli


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def astronaut_jpeg() -> bytes:
    from skimage import data

    return encode(Image.fromarray(data.astronaut()), "JPEG")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), c) for c in ("red", "green")]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


# --- files that are not usable images --------------------------------------------------------
REFUSED = {
    "empty file": (lambda: b"", "is empty"),
    "random bytes named .jpg": (lambda: np.random.default_rng(0).bytes(5000), "not a readable image"),
    "truncated JPEG": (lambda: astronaut_jpeg()[:4000], "damaged or truncated"),
    "PNG bomb (50 megapixels)": (lambda: encode(Image.new("1", (10_000, 5_000)), "PNG"), "more than"),
    "1x1 image": (lambda: encode(Image.new("RGB", (1, 1)), "PNG"), "only 1x1"),
    "10000x10000 image": (lambda: encode(Image.new("L", (10_000, 10_000)), "PNG"), "more than"),
    "PPM (unsupported format)": (lambda: encode(Image.new("RGB", (64, 64)), "PPM"), "use JPEG, PNG or WebP"),
    "HEIC-named text": (lambda: b"ftypheic not really an image", "not a readable image"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_unusable_images_are_refused(case):
    make, message = REFUSED[case]
    with pytest.raises(ImageError, match=message) as err:
        read_image(make(), name="upload.jpg")
    assert "BytesIO" not in str(err.value) and "upload.jpg" in str(err.value)


CONVERTED = {  # each made as one colour: (the file, the RGB it must read as)
    "grayscale": (lambda: encode(Image.new("L", (80, 60), 120), "PNG"), (120, 120, 120)),
    "RGBA": (lambda: encode(Image.new("RGBA", (80, 60), (10, 20, 30, 128)), "PNG"), (10, 20, 30)),  # alpha dropped
    "CMYK JPEG": (lambda: encode(Image.new("CMYK", (80, 60), (0, 50, 100, 0)), "JPEG"), (255, 205, 155)),
    "16-bit PNG": (lambda: encode(Image.fromarray(np.full((60, 80), 40000, np.uint16)), "PNG"), (155, 155, 155)),
    "palette GIF": (lambda: encode(Image.new("RGB", (80, 60), "blue").convert("P"), "GIF"), (0, 0, 255)),
    "animated GIF": (animated_gif, (255, 0, 0)),  # its first frame
    "WebP": (lambda: encode(Image.new("RGB", (80, 60), "white"), "WEBP"), (255, 255, 255)),
}


@pytest.mark.parametrize("case", CONVERTED, ids=list(CONVERTED))
def test_other_image_kinds_become_rgb(case):
    make, colour = CONVERTED[case]
    image = read_image(make(), name=case)
    assert image.dtype == np.uint8 and image.shape == ((40, 40, 3) if case == "animated GIF" else (60, 80, 3))
    assert np.abs(image.astype(int) - colour).max() <= 2  # the same colour, whatever the file's mode


def test_large_photo_is_downscaled_not_refused():
    image = read_image(encode(Image.new("RGB", (6000, 4000), "gray"), "JPEG"), name="big.jpg")
    assert max(image.shape[:2]) <= MAX_SIDE


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        read_image(tmp_path / "nope.jpg")


# --- faces --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def aligner():
    with FaceAligner() as a:
        yield a


def test_profile_face_is_refused(aligner, astronaut):
    landmarks = aligner.landmarks(astronaut)[0].copy()
    landmarks[1] = landmarks[133] + 2  # nose tip right next to one eye: a head turned sideways
    with pytest.raises(AlignmentError, match="sideways"):
        align_landmarks(astronaut, landmarks, 64)


# --- masks and settings ----------------------------------------------------------------------
def test_mask_covering_everything_generates_a_face(tiny_model):
    mask = mask_from_canvas(np.full((256, 256, 4), 255, np.uint8), 16)
    ((result,),) = complete_faces(FaceFiller(tiny_model), [FillRequest(np.zeros((16, 16, 3), np.uint8), mask)],
                                  CompletionConfig(iterations=5))
    assert result.completed.shape == (16, 16, 3) and result.completed.std() > 0  # G's face, not the black input


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"lam": float("nan")}, "lam must be a finite number"),
        ({"learning_rate": float("inf")}, "learning_rate must be a finite number"),
        ({"iterations": -5}, "iterations must be a whole number"),
        ({"iterations": 10**9}, "iterations must be a whole number"),
        ({"restarts": 0}, "restarts must be a whole number"),
        ({"optimizer": "sgd"}, "optimizer must be"),
        ({"lam": -1.0}, "lam must be >= 0"),
    ],
    ids=["NaN lambda", "inf learning rate", "negative iterations", "huge iterations", "no restarts", "unknown optimiser", "negative lambda"],
)
def test_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        CompletionConfig(**settings)


# --- weights ---------------------------------------------------------------------------------
@pytest.fixture
def weights_copy(tmp_path, tiny_model, tiny_config) -> Path:
    return save_model(tmp_path / "w", tiny_config, tiny_model.generator, tiny_model.discriminator)


def test_weights_missing(weights_copy):
    (weights_copy / DISCRIMINATOR_FILE).unlink()
    with pytest.raises(WeightsError, match=f"{DISCRIMINATOR_FILE} is missing"):
        load_model(weights_copy)


def test_weights_truncated(weights_copy):
    path = weights_copy / GENERATOR_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsError, match=GENERATOR_FILE):
        load_model(weights_copy)


def test_weights_from_a_different_model_size(weights_copy, tmp_path):
    from core.config import ModelConfig
    from core.model import build_discriminator, build_generator

    other = ModelConfig(image_size=32, z_dim=8, gf=4, df=4)
    save_model(tmp_path / "other", other, build_generator(other), build_discriminator(other))
    os.replace(tmp_path / "other" / GENERATOR_FILE, weights_copy / GENERATOR_FILE)
    with pytest.raises(WeightsError, match="does not fit"):
        load_model(weights_copy)


def test_weights_that_are_a_pickle(weights_copy):
    import pickle

    (weights_copy / GENERATOR_FILE).write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(WeightsError, match="not an HDF5 weights file"):
        load_model(weights_copy)


def test_model_json_corrupt(weights_copy):
    (weights_copy / MODEL_JSON).write_text("{not json")
    with pytest.raises(WeightsError, match="not a valid model description"):
        load_model(weights_copy)


# --- datasets ---------------------------------------------------------------------------------
def test_dataset_empty(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no readable images"):
        list_images(tmp_path / "empty")


def test_dataset_only_non_images(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.jpg").write_bytes(b"nope")
    (tmp_path / "junk" / "b.txt").write_text("nope")
    with pytest.raises(ValueError, match=r"no readable images \(1 unreadable\)"):
        list_images(tmp_path / "junk")


def test_dataset_missing_leaves_no_run_folder(tmp_path, tiny_config):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(tmp_path / "missing", tmp_path / "run", tiny_config)
    assert not (tmp_path / "run").exists()


@pytest.fixture
def roots(tmp_path, monkeypatch) -> Settings:
    (tmp_path / "data" / "faces").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (tmp_path / "data" / "escape").symlink_to(tmp_path / "secret")
    monkeypatch.chdir(tmp_path / "data")
    monkeypatch.setenv("FACEFILL_DATA_ROOTS", str(tmp_path / "data"))
    return Settings.from_env()


@pytest.mark.parametrize("path", ["../../etc", "/etc", "escape", "faces/../../secret", ""], ids=["dot-dot", "absolute", "symlink out", "dot-dot inside", "empty"])
def test_dataset_outside_allowed_roots(roots, path):
    with pytest.raises(SettingsError):
        roots.dataset_path(path)


def test_dataset_inside_root_is_allowed(roots, tmp_path):
    assert roots.dataset_path("faces") == (tmp_path / "data" / "faces").resolve()
    assert tmp_path / "secret" not in [p.resolve() for p in roots.dataset_choices()]


def test_bad_numeric_setting(monkeypatch):
    monkeypatch.setenv("FACEFILL_MAX_ITERATIONS", "lots")
    with pytest.raises(SettingsError, match="FACEFILL_MAX_ITERATIONS must be a whole number"):
        Settings.from_env()


# --- command lines: a one-line error and an exit code, never a traceback -----------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["core.train", "--data", "/nonexistent", "--out", "{tmp}/run"], "Dataset folder /nonexistent does not exist"),
        (["core.train", "--data", "{tmp}", "--out", "{tmp}/run", "--steps", "-3"], "must be positive"),
        (["core.complete", "{tmp}/bad.jpg", "--weights", "{weights}", "--out", "{tmp}/o"], "no usable face"),
        (["core.complete", "{tmp}/bad.jpg", "--weights", "{weights}", "--iters", "-5"], "iterations must be a whole number"),
        (["core.complete", "{tmp}/bad.jpg", "--weights", "{weights}", "--mask", "{tmp}/nomask.png"], "does not exist"),
        (["core.align", "/nonexistent", "{tmp}/out"], "is not a folder"),
    ],
    ids=["train: no data", "train: negative steps", "complete: corrupt photo", "complete: negative iterations",
         "complete: missing mask file", "align: no folder"],
)
def test_cli_errors(args, message, tmp_path, tiny_weights):
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    args = [a.format(tmp=tmp_path, weights=tiny_weights) for a in args]
    result = run_cli(*args)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert message in output and "Traceback" not in output


def test_symlinks_never_lead_training_out_of_the_allowed_folders(roots, tmp_path, monkeypatch):
    from core.align import find_images
    from core.data import list_images

    faces = tmp_path / "data" / "faces"
    Image.new("RGB", (20, 20)).save(faces / "own.png")
    Image.new("RGB", (20, 20)).save(tmp_path / "secret" / "private.png")
    (tmp_path / "secret" / "deeper").mkdir()
    (faces / "linked.png").symlink_to(tmp_path / "secret" / "private.png")  # a file that leads out
    (faces / "linked-folder").symlink_to(tmp_path / "secret")  # a folder that leads out
    assert [p.name for p in find_images(faces)] == ["own.png"]
    assert [Path(p).name for p in list_images(faces)[0]] == ["own.png"]
    choices = [p.resolve() for p in roots.dataset_choices()]
    assert all(tmp_path / "secret" not in [c, *c.parents] for c in choices)  # not even its subfolders


def test_a_hosted_server_serves_the_demo_profile_unless_told_otherwise(monkeypatch):
    for name in ("FACEFILL_TRAINING", "FACEFILL_MAX_ITERATIONS", "FACEFILL_MAX_RESTARTS", "FACEFILL_MAX_SECONDS", "SPACE_ID"):
        monkeypatch.delenv(name, raising=False)
    local = Settings.from_env()
    assert local.training_enabled and local.max_iterations == 3000
    monkeypatch.setenv("FACEFILL_HOSTED", "1")
    demo = Settings.from_env()
    assert not demo.training_enabled and demo.max_iterations == 300 and demo.max_restarts == 2 and demo.max_seconds == 15
    monkeypatch.delenv("FACEFILL_HOSTED")
    monkeypatch.setenv("SPACE_ID", "someone/facefill")  # set by Hugging Face Spaces
    assert not Settings.from_env().training_enabled
    monkeypatch.setenv("FACEFILL_MAX_ITERATIONS", "1000")
    assert Settings.from_env().max_iterations == 1000  # an explicit setting still wins


def test_the_admin_password_guards_training_and_never_shows(monkeypatch):
    monkeypatch.delenv("FACEFILL_ADMIN_PASSWORD", raising=False)
    assert Settings.from_env().may_control_training(None)  # one person's own machine: open
    monkeypatch.setenv("FACEFILL_ADMIN_PASSWORD", "s3cret")
    settings = Settings.from_env()
    assert settings.may_control_training("s3cret")
    for guess in (None, "", "s3cre", "s3cret ", "S3CRET"):
        assert not settings.may_control_training(guess)
    assert "s3cret" not in repr(settings)
