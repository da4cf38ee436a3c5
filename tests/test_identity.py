"""The meters of an edit that no FaceFill network was trained against: identity (dlib's face embedding) and colours
the photo did not have."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.align import FaceAligner
from core.config import CompletionConfig
from core.identity import SAME_PERSON, IdentityMeter, lightness_shift, new_colour_share
from core.masks import face_mask
from core.model import sample_z
from core.inpaint import paste_back, photo_fill
from core.images import to_uint8
from core.weights import load_model

ROOT = Path(__file__).resolve().parent.parent


def test_the_identity_meter_tells_her_from_a_stranger_in_her_place(astronaut):
    model = load_model(ROOT / "weights")
    with FaceAligner() as aligner:
        alignment = aligner.align(astronaut, model.config.image_size)
    strangers = to_uint8(model.generator(sample_z(8, model.config.z_dim, seed=3), training=False).numpy())
    replaced = [paste_back(astronaut, alignment, stranger, face_mask(model.config.image_size), CompletionConfig())
                for stranger in strangers]
    brighter = np.clip(astronaut.astype(int) + 12, 0, 255).astype(np.uint8)
    same, *others = IdentityMeter().distances(astronaut, [brighter, *replaced])
    # Pasted into her photo, a stranger's face keeps her hair, outline and skin tone, so dlib reads each one near its
    # threshold (0.54-0.67 for the 6 December G) while a brighter photo of her is at 0.04.
    assert same < SAME_PERSON / 4 and min(others) > 0.8 * SAME_PERSON
    assert np.mean(np.array(others) > SAME_PERSON) >= 0.25


def test_a_photo_without_a_face_is_not_compared():
    assert np.isnan(IdentityMeter().distances(np.full((200, 200, 3), 128, np.uint8), [np.zeros((200, 200, 3))])).all()


def test_only_changed_pixels_in_colours_the_face_lacks_count_as_new(astronaut):
    with FaceAligner() as aligner:
        alignment = aligner.align(astronaut, 64)
    face = photo_fill(astronaut.shape, alignment, face_mask(64))
    ys, xs = np.nonzero(face)
    patch = (slice(ys.mean().astype(int) - 10, ys.mean().astype(int) + 10),
             slice(xs.mean().astype(int) - 10, xs.mean().astype(int) + 10))
    magenta, skin = astronaut.copy(), astronaut.copy()
    magenta[patch] = (230, 40, 220)
    skin[patch] = np.median(astronaut[face], axis=0)  # a colour the face has, though the pixels changed
    assert new_colour_share(astronaut, magenta, face) > 0.9
    assert new_colour_share(astronaut, skin, face) < 0.1
    assert new_colour_share(astronaut, astronaut, face) == 0.0


def test_a_pale_patch_shifts_lightness_and_a_moved_feature_does_not():
    skin = np.full((60, 60, 3), (200, 160, 140), np.uint8)
    before = skin.copy()
    before[20:30, 10:30] = 60  # a dark feature
    pale = before.copy()
    pale[35:55, 10:50] = 245  # a pale chin under it
    moved = skin.copy()
    moved[25:35, 10:30] = 60  # the feature 5 px lower: skin where its top was, feature below
    assert lightness_shift(before, pale) > 10
    assert abs(lightness_shift(before, moved)) < 1
    assert lightness_shift(before, before) == 0.0
    assert lightness_shift(pale, before) == -lightness_shift(before, pale)


def test_bounding_colours_keeps_lightness_and_the_face_s_own_colours(astronaut):
    from core.blend import colour_range, keep_colours

    where = np.zeros(astronaut.shape[:2], bool)
    where[80:200, 150:250] = True  # her face
    low, high = colour_range(astronaut, where)
    magenta = np.full((2, 2, 3), (230, 40, 220), np.uint8)
    kept = keep_colours(magenta.astype(np.float32), np.full_like(magenta, 128), low, high).astype(np.uint8)
    chroma = cv2.cvtColor(kept, cv2.COLOR_RGB2LAB)[0, 0, 1:]
    assert (chroma >= low - 1).all() and (chroma <= high + 1).all()  # in her face's colours
    lightness = [cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[0, 0, 0] for image in (magenta, kept)]
    assert abs(int(lightness[0]) - int(lightness[1])) <= 3
    np.testing.assert_allclose(keep_colours(magenta.astype(np.float32), magenta, low, high), magenta, atol=1)


def test_an_edit_brings_no_colour_the_face_lacks(tiny_model, astronaut, monkeypatch):
    from core.face_filler import FaceFiller
    from core.edit import apply_edit, project_face
    from core.project import PROJECTION
    from dataclasses import replace

    filler = FaceFiller(tiny_model)
    with FaceAligner() as aligner:
        alignment = aligner.align(astronaut, tiny_model.config.image_size)
    projected = project_face(filler, alignment.face, (astronaut, alignment),
                             replace(PROJECTION, iterations=2, report_every=2, init_pool=4), tuning=None)
    drawn = projected.face.astype(np.float32) / 127.5 - 1
    painted = drawn.copy()
    painted[6:10, 5:11] = np.array([230, 40, 220]) / 127.5 - 1  # G's edit paints her mouth magenta
    monkeypatch.setattr(filler, "generate_with", lambda weights, z: np.stack([drawn, painted]))
    edited = apply_edit(filler, projected, projected.z)
    face = photo_fill(astronaut.shape, alignment, face_mask(tiny_model.config.image_size))
    assert np.abs(edited.pasted.astype(int) - astronaut).max() > 8  # the edit did change the photo
    assert new_colour_share(astronaut, edited.pasted, face) < 0.05


@pytest.mark.parametrize("arguments", [[], ["PHOTOS", "--random"], ["PHOTOS", "--write-limits"],
                                       ["PHOTOS", "--app-only", "--write-limits", "--amount", "2"],
                                       ["--random", "--app-only", "--write-limits"]])
def test_the_edit_report_measures_photos_or_g_s_random_faces_and_writes_ranges_from_several_amounts(arguments, capsys):
    from core.edit_report import main

    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    error = capsys.readouterr().err
    assert exit_.value.code == 2 and ("not both" in error or "--write-limits" in error)
