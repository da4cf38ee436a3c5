import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from core.align import LANDMARKS, TEMPLATE, AlignmentError, FaceAligner


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


def test_tiny_face_is_too_small(aligner, astronaut):
    small = np.asarray(Image.fromarray(astronaut).resize((64, 64)))
    canvas = np.full((400, 400, 3), 200, np.uint8)
    canvas[100:164, 100:164] = small
    with pytest.raises(AlignmentError) as err:
        aligner.align(canvas)
    assert err.value.reason in ("too_small", "no_face")


def test_align_cli_counts(tmp_path, astronaut):
    raw = tmp_path / "raw"
    (raw / "nested").mkdir(parents=True)
    Image.fromarray(astronaut).save(raw / "nested" / "face.jpg")
    Image.fromarray(np.full((100, 100, 3), 90, np.uint8)).save(raw / "blank.png")
    (raw / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "core.align", str(raw), str(out), "--size", "32"],
        capture_output=True, text=True, check=True,
    )
    assert "aligned 1" in result.stdout and "no_face 1" in result.stdout and "unreadable 1" in result.stdout
    assert [p.name for p in out.iterdir()] == ["nested_face.png"]
    assert Image.open(out / "nested_face.png").size == (32, 32)
