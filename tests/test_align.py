import re

import numpy as np
import pytest
from PIL import Image

from core.align import LANDMARKS, MIN_FACE_HEIGHT, TEMPLATE, AlignmentError, FaceAligner, tiles
from tests.helpers.cli import run_cli


@pytest.fixture(scope="module")
def aligner():
    with FaceAligner() as a:
        yield a


def test_landmarks_land_on_template(aligner, astronaut):
    alignment = aligner.align(astronaut, 64)
    assert alignment.face.shape == (64, 64, 3)
    mapped = np.c_[alignment.landmarks, np.ones(3)] @ alignment.matrix.T
    np.testing.assert_allclose(mapped, TEMPLATE * 64, atol=1e-3)
    # Independent check: detect again on a larger aligned face; the anchors are within a few pixels.
    big = aligner.align(astronaut, 256)
    found = aligner.landmarks(big.face)[0][list(LANDMARKS)]
    assert np.abs(found - TEMPLATE * 256).max() < 6


def test_no_face_is_reported(aligner):
    sky = np.tile(np.linspace(0, 255, 200, dtype=np.uint8)[:, None, None], (1, 200, 3))
    with pytest.raises(AlignmentError) as err:
        aligner.align(sky)
    assert err.value.reason == "no_face"
    assert f"at least {MIN_FACE_HEIGHT} px tall" in str(err.value)  # says what a photo needs


def test_a_small_face_is_found_and_called_too_small(aligner, astronaut):
    small = np.asarray(Image.fromarray(astronaut).resize((160, 160)))  # the face is ~30 px wide
    canvas = np.full((400, 400, 3), 200, np.uint8)
    canvas[100:260, 100:260] = small
    with pytest.raises(AlignmentError) as err:
        aligner.align(canvas)
    assert err.value.reason == "too_small"  # found in a tile, not "no face"
    # The message gives the smallest size that works, and that size does work.
    height, needed = map(int, re.search(r"it is (\d+) px tall.* at least (\d+) px", str(err.value)).groups())
    assert height < needed
    scale = needed / height * 1.05
    larger = np.asarray(Image.fromarray(canvas).resize((round(400 * scale), round(400 * scale))))
    assert aligner.align(larger, 64).face.shape == (64, 64, 3)


def test_a_photo_too_small_for_a_face_says_how_large_it_must_be(aligner, astronaut):
    tiny = np.asarray(Image.fromarray(astronaut).resize((20, 20)))
    with pytest.raises(AlignmentError, match=f"only 20x20 pixels.*at least {MIN_FACE_HEIGHT} px tall") as err:
        aligner.align_all(tiny)
    assert err.value.reason == "too_small"


def test_every_face_of_a_group_photo_is_found(aligner, astronaut):
    # Three faces each ~4% of the photo's width: the detector alone finds none of them.
    small = np.asarray(Image.fromarray(astronaut).resize((320, 320)))
    group = np.full((900, 1600, 3), 180, np.uint8)
    for x in (100, 650, 1200):
        group[300:620, x : x + 320] = small
    assert aligner._detect(group) == []
    faces = aligner.align_all(group, 64)
    assert len(faces) == 3
    noses = sorted(float(face.landmarks[:2, 0].mean()) for face in faces)  # the eyes' midpoint, in photo pixels
    assert all(abs(nose - (x + 160)) < 40 for nose, x in zip(noses, (100, 650, 1200)))


def test_tiles_cover_the_photo_and_overlap():
    shape = (900, 1600)
    covered = np.zeros(shape, int)
    for rows, cols in tiles(shape):
        covered[rows, cols] += 1
    assert covered.min() >= 4  # every pixel is in a tile of every size
    assert tiles((150, 150)) == []  # a small photo is searched whole only


def test_align_cli_counts(tmp_path, astronaut):
    raw = tmp_path / "raw"
    (raw / "nested").mkdir(parents=True)
    Image.fromarray(astronaut).save(raw / "nested" / "face.jpg")
    Image.fromarray(np.full((100, 100, 3), 90, np.uint8)).save(raw / "blank.png")
    (raw / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    out = tmp_path / "out"
    result = run_cli("core.align", raw, out, "--size", "32")
    assert result.returncode == 0, result.stderr
    assert "aligned 1" in result.stdout and "no_face 1" in result.stdout and "unreadable 1" in result.stdout
    assert [p.name for p in out.iterdir()] == ["nested_face.png"]
    assert Image.open(out / "nested_face.png").size == (32, 32)


def test_the_landmark_model_ships_in_the_repository(monkeypatch, tmp_path):
    from core.align import LANDMARKER_MODEL, landmarker_model_path

    assert landmarker_model_path() == LANDMARKER_MODEL and LANDMARKER_MODEL.stat().st_size > 1_000_000
    monkeypatch.setenv("FACEFILL_LANDMARKER", str(tmp_path / "missing.task"))
    with pytest.raises(RuntimeError, match="missing.task is missing"):
        landmarker_model_path()


def test_aligning_a_folder_of_aligned_faces_keeps_them(tmp_path):
    """The Train page aligns first by default: faces already at the model's size must survive that."""
    from core.align import align_folder
    from core.images import save_png

    (tmp_path / "in").mkdir()
    face = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    save_png(tmp_path / "in" / "face.png", face)
    counts = align_folder(tmp_path / "in", tmp_path / "out", 64)
    assert counts == {"aligned": 1}
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "face.png")), face)
