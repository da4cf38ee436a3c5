"""Local, disentangled edits: each direction changes only its part of the face (core.regions), holds what it is
most tangled with unless told otherwise, and the command line edits photos as the Explore page does."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.align import FaceAligner
from core.attributes import ATTRIBUTES
from core.face_filler import FaceFiller
from core.directions import Directions, load_directions, save_directions
from core.edit import KeepRest, edit_face, generated_face, keep_rest, main, project_face
from core.edit_report import SliderBar, slider_limits, write_limits
from core.edit_report import main as edit_report
from core.images import read_image, save_png
from core.masks import center_mask, face_mask
from core.inpaint import photo_fill
from core.jaw import CLOSABLE, JAW_DROP, JawDrop, drop_jaw, jaw_reach
from core.project import PROJECTION
from core.model import sample_z
from core.regions import LOCAL_PARTS, edit_region, face_landmarks, is_local
from core.weights import load_model, read_model_json, write_json

ROOT = Path(__file__).resolve().parent.parent
SIZE = 128
MOUTH, RIGHT_EYE, LEFT_EYE, BROW, LIP_BOTTOM = 13, 159, 386, 52, 17  # mesh points: upper lip, upper lids, a brow, lower lip


@pytest.fixture(scope="module")
def landmarks(astronaut) -> np.ndarray:
    """The astronaut's face aligned at 128 px, and its landmarks found on the aligned face itself."""
    with FaceAligner() as aligner:
        face = aligner.align(astronaut, SIZE).face
        return face_landmarks(aligner, face)


def inside(region: np.ndarray, point: np.ndarray) -> bool:
    x, y = np.round(point).astype(int)
    return bool(region[y, x])


def test_each_local_direction_changes_its_own_part_of_the_face(landmarks):
    whole = face_mask(SIZE).fill
    regions = {name: edit_region(landmarks, {name: 1.0}, SIZE).fill for name in LOCAL_PARTS}
    for name in ("smile", "mouth_open"):
        assert inside(regions[name], landmarks[MOUTH])
        assert not inside(regions[name], landmarks[RIGHT_EYE]) and not inside(regions[name], landmarks[LEFT_EYE])
    assert inside(regions["eyes_closed"], landmarks[RIGHT_EYE]) and inside(regions["eyes_closed"], landmarks[LEFT_EYE])
    assert not inside(regions["eyes_closed"], landmarks[MOUTH]) and not inside(regions["eyes_closed"], landmarks[BROW])
    assert inside(regions["brows_raised"], landmarks[BROW]) and regions["brows_raised"][0].any()  # up the forehead
    assert not inside(regions["brows_raised"], landmarks[MOUTH])
    for region in regions.values():
        assert region.any() and region.mean() < 0.5 * whole.mean()
    both = edit_region(landmarks, {"smile": 1.0, "eyes_closed": -2.0}, SIZE).fill
    np.testing.assert_array_equal(both, regions["smile"] | regions["eyes_closed"])


@pytest.mark.parametrize("amounts", [{"age": 1.0}, {"smile": 1.0, "yaw": 0.5}, {}])
def test_a_whole_face_direction_or_no_edit_changes_the_whole_face(landmarks, amounts):
    np.testing.assert_array_equal(edit_region(landmarks, amounts, SIZE).known, face_mask(SIZE).known)


def test_without_landmarks_an_edit_changes_the_whole_face():
    np.testing.assert_array_equal(edit_region(None, {"smile": 1.0}, SIZE).known, face_mask(SIZE).known)


def test_a_small_face_s_landmarks_are_found_enlarged(astronaut, landmarks):
    with FaceAligner() as aligner:
        small = aligner.align(astronaut, 32).face
        found = face_landmarks(aligner, small)
    assert found is not None
    assert np.abs(found * SIZE / 32 - landmarks).mean() < 3  # the same points, in the small face's pixels


def directions_for(z_dim: int, tangled: dict[str, str] | None = None) -> Directions:
    """smile along z's first axis tilted towards its second, female along the second: tangled, as on a real G."""
    vectors = np.zeros((2, z_dim), np.float32)
    vectors[0, :2] = [1, 1]
    vectors[0] /= np.linalg.norm(vectors[0])
    vectors[1, 1] = 1
    bank = np.random.default_rng(0).uniform(-1, 1, (20, z_dim)).astype(np.float32)
    return Directions(["smile", "female"], vectors, bank, np.full((20, len(ATTRIBUTES)), np.nan), tangled or {})


def test_each_direction_holds_what_it_is_most_tangled_with_unless_released():
    directions = directions_for(3, {"smile": "female"})
    z = np.zeros(3, np.float32)
    np.testing.assert_allclose(directions.edit(z, {"smile": 2.0}), [2, 0, 0], atol=1e-6)  # female held
    np.testing.assert_allclose(directions.edit(z, {"smile": 2.0}, hold=()), [np.sqrt(2), np.sqrt(2), 0], atol=1e-6)
    np.testing.assert_allclose(directions.edit(z, {"female": 1.0}), [0, 1, 0], atol=1e-6)  # holds nothing


def test_the_tangled_directions_come_from_the_model_card(tmp_path, tiny_weights):
    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights, folder)
    meta = read_model_json(folder)
    write_json(folder / "model.json", {"config": meta["config"].to_dict(), "dtype": meta.get("dtype", "float32"),
                                       "card": {**meta["card"], "directions": {"report": {
                                           "smile": {"holding": {"hold": "female"}},
                                           "female": {"holding": {"hold": "no such direction"}}}}}})
    save_directions(folder, directions_for(meta["config"].z_dim))
    assert load_directions(folder, meta["config"].z_dim).tangled == {"smile": "female"}


@pytest.fixture(scope="module")
def projected(tiny_model, astronaut):
    """The astronaut projected into the tiny model as the page does it, with its landmarks."""
    with FaceAligner() as aligner:
        alignment = aligner.align(astronaut, tiny_model.config.image_size)
        quick = replace(PROJECTION, iterations=5, report_every=5, init_pool=4)
        return project_face(FaceFiller(tiny_model), alignment.face, (astronaut, alignment), quick, aligner=aligner)


def test_a_local_edit_keeps_every_photo_pixel_outside_its_region(tiny_model, projected):
    filler, size = FaceFiller(tiny_model), tiny_model.config.image_size
    directions = directions_for(tiny_model.config.z_dim)
    photo, alignment = projected.source
    assert projected.landmarks is not None
    region = photo_fill(photo.shape, alignment, edit_region(projected.landmarks, {"smile": 1.0}, size))
    face = photo_fill(photo.shape, alignment, face_mask(size))
    local = edit_face(filler, directions, projected, {"smile": 3.0})
    np.testing.assert_array_equal(local.pasted[~region], photo[~region])
    assert np.abs(local.pasted[region].astype(int) - photo[region]).mean() > 1
    whole = edit_face(filler, directions, projected, {"smile": 3.0}, local=False)
    elsewhere = face & ~region
    assert np.abs(whole.pasted[elsewhere].astype(int) - photo[elsewhere]).mean() > 1  # the whole face moved
    with pytest.raises(ValueError, match="No direction"):
        edit_face(filler, directions, projected, {"grin": 1.0})


def test_keeping_the_rest_draws_g_s_face_again_outside_the_region_and_keeps_the_edit():
    model = load_model(ROOT / "weights")  # the shipped G: an untrained one hardly depends on z
    filler, size, z_dim = FaceFiller(model), model.config.image_size, model.config.z_dim
    z = sample_z(1, z_dim, seed=3).numpy()[0]
    along = np.linalg.qr(np.random.default_rng(1).normal(size=(z_dim, 2)))[0].T.astype(np.float32)  # two directions
    z_edited = z + 3.0 * along[0] - 1.0 * along[1]
    region = center_mask(size)
    kept = keep_rest(filler, z, z_edited, along, region)
    np.testing.assert_allclose(along @ (kept - z), along @ (z_edited - z), atol=1e-4)  # still edited as far

    def rest_moved(edited: np.ndarray) -> float:
        drawn = filler.generator(np.stack([z, edited]), training=False).numpy()
        return float(np.abs(drawn[1] - drawn[0])[~region.fill].mean())

    assert rest_moved(kept) < 0.5 * rest_moved(z_edited)
    np.testing.assert_array_equal(keep_rest(filler, z, z_edited, along, region, KeepRest(steps=0)), z_edited)
    with pytest.raises(ValueError, match="steps"):
        KeepRest(steps=-1)


def test_only_local_edits_with_landmarks_are_local(landmarks):
    assert is_local(landmarks, {"smile": 1.0, "eyes_closed": -2.0, "age": 0.0})
    assert not is_local(landmarks, {"smile": 1.0, "age": 1.0})
    assert not is_local(landmarks, {"smile": 0.0})
    assert not is_local(None, {"smile": 1.0})


def test_a_face_of_the_grid_is_edited_like_a_photo(tiny_model):
    filler = FaceFiller(tiny_model)
    with FaceAligner() as aligner:
        drawn = generated_face(filler, np.zeros(tiny_model.config.z_dim, np.float32), aligner)
    unedited = edit_face(filler, directions_for(tiny_model.config.z_dim), drawn, {"smile": 0.0})
    np.testing.assert_array_equal(unedited.face, drawn.face)
    assert unedited.pasted is None


def test_the_command_line_edits_photos_at_their_own_resolution(tmp_path, tiny_weights, astronaut, capsys):
    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights, folder)
    z_dim = read_model_json(folder)["config"].z_dim
    save_directions(folder, directions_for(z_dim))
    save_png(tmp_path / "astronaut.png", astronaut)
    main([str(tmp_path / "astronaut.png"), "--edit", "smile=3", "--weights", str(folder), "--out", str(tmp_path / "out")])
    edited = read_image(tmp_path / "out" / "astronaut_edited.png")
    assert edited.shape == astronaut.shape and not np.array_equal(edited, astronaut)
    assert "astronaut_edited.png" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "astronaut.png"), "--edit", "grin=1", "--weights", str(folder)])
    assert exit_.value.code == 2 and "No direction 'grin'" in capsys.readouterr().err


def figures(up: float, down: float, same: float) -> dict:
    return {"up": up, "down": down, "same_person": same, "new_colour": 0.01}


def test_a_slider_ends_at_the_farthest_amount_that_keeps_the_person_and_moves_the_attribute():
    measured = {
        1.0: {"smile": figures(1, 1, 1), "age": figures(1, 0.8, 1), "yaw": figures(1, 1, 1),
              "mouth": figures(0.5, 1, 1), "brows": figures(0.5, 1, 0.5)},
        2.0: {"smile": figures(1, 1, 0.95), "age": figures(1, 1, 1), "yaw": figures(1, 1, float("nan")),
              "mouth": figures(0.6, 1, 1), "brows": figures(0.5, 1, 1)},
        3.0: {"smile": figures(0.9, 0.9, 0.9), "age": figures(1, 1, 0.5), "yaw": figures(1, 1, 1),
              "mouth": figures(0.7, 1, 0.8), "brows": figures(0.5, 1, 1)},
    }
    limits = slider_limits(measured, ["smile", "age", "yaw", "mouth", "brows"], SliderBar())
    # smile holds everywhere; age moves too little at 1 but holds at 2 and loses the person at 3; yaw's identity is
    # lost (NaN) at 2, so 3 does not count; mouth never moves both ways: the farthest that keeps the person; brows
    # keep the person nowhere from the smallest amount on: the smallest
    assert limits == {"smile": 3.0, "age": 2.0, "yaw": 1.0, "mouth": 2.0, "brows": 1.0}
    assert slider_limits(measured, ["smile"], SliderBar(same_person=0.92)) == {"smile": 2.0}
    with pytest.raises(ValueError):
        SliderBar(moves=0)


def test_slider_ranges_are_written_to_the_card_and_bound_the_command_line(tmp_path, tiny_weights, astronaut, capsys):
    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights, folder)
    z_dim = read_model_json(folder)["config"].z_dim
    save_directions(folder, directions_for(z_dim))
    measured = {a: {"smile": figures(1, 1, 1), "female": figures(1, 1, 1 if a < 2 else 0.5)} for a in (1.5, 3.0)}
    write_limits(folder, measured, slider_limits(measured, ["smile", "female"]), SliderBar(), "2 photos", "test")
    write_limits(folder, measured, {"smile": 1.5, "female": 1.5}, SliderBar(), "2 random faces", "test", grid=True)
    directions = load_directions(folder, z_dim)
    assert directions.limit("smile") == 3.0 and directions.limit("female") == 1.5
    assert directions.limit("smile", grid=True) == 1.5  # G's random faces: their own ranges, beside the photos'
    assert read_model_json(folder)["card"]["directions"]["sliders"]["measured"]["1.5"]["female"]["same_person"] == 1
    again = {a: {"female": figures(1, 1, 1)} for a in (1.5, 3.0)}  # one direction changed and measured again
    write_limits(folder, again, slider_limits(again, ["female"]), SliderBar(), "2 photos", "again")
    stored = read_model_json(folder)["card"]["directions"]["sliders"]
    assert stored["limits"] == {"smile": 3.0, "female": 3.0} and stored["command"] == "test"
    assert set(stored["measured"]["3"]) == {"smile", "female"} and stored["measured"]["3"]["female"]["same_person"] == 1
    assert stored["remeasured"]["female"]["command"] == "again"
    write_limits(folder, measured, {"smile": 3.0, "female": 1.5}, SliderBar(), "2 photos", "all")  # all: replaced
    stored = read_model_json(folder)["card"]["directions"]["sliders"]
    assert stored["command"] == "all" and "remeasured" not in stored
    save_png(tmp_path / "astronaut.png", astronaut)
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "astronaut.png"), "--edit", "female=-2", "--weights", str(folder)])
    assert exit_.value.code == 2 and "female=-2 is past its range, +-1.5" in capsys.readouterr().err


def striped() -> np.ndarray:
    """A SIZE px face whose every row's grey (twice its index) says where it was before a warp."""
    return np.stack([np.repeat(2 * np.arange(SIZE, dtype=np.uint8)[:, None], SIZE, axis=1)] * 3, axis=-1)


def test_an_opening_mouth_drops_the_jaw_and_moves_nothing_above_the_lips(landmarks):
    face = striped()
    drop = 6.0
    dropped = drop_jaw(face, landmarks, drop)
    x, y = np.round(landmarks[LIP_BOTTOM]).astype(int) + [0, 2]
    assert abs(int(dropped[y, x, 0]) - 2 * (y - drop)) <= 2  # under the lip: what was drop px above it
    np.testing.assert_array_equal(dropped[: int(landmarks[MOUTH, 1])], face[: int(landmarks[MOUTH, 1])])
    reach = jaw_reach(face.shape, landmarks, drop)
    assert 0 < reach.mean() < 0.5 and not reach[: int(landmarks[MOUTH, 1]) - 3].any()
    np.testing.assert_array_equal(dropped[~reach], face[~reach])
    np.testing.assert_array_equal(drop_jaw(face, landmarks, 0.0), face)
    assert JAW_DROP.drop({"mouth_open": 2.0}, SIZE) == pytest.approx(2 * JAW_DROP.per_unit * SIZE)
    assert JAW_DROP.drop({"mouth_open": -2.0, "smile": 1.0}, SIZE) == pytest.approx(-2 * JAW_DROP.per_unit * SIZE)
    with pytest.raises(ValueError, match="per_unit"):
        JawDrop(per_unit=-0.1)


def test_a_closing_mouth_raises_the_jaw_as_far_as_the_mouth_is_open(landmarks):
    face = striped()
    gap = landmarks[14, 1] - landmarks[MOUTH, 1]  # the astronaut smiles with her mouth open
    assert gap > 1
    raised = drop_jaw(face, landmarks, -50.0)  # far more than the opening
    x, y = np.round(landmarks[LIP_BOTTOM]).astype(int) + [0, 2]
    assert abs(int(raised[y, x, 0]) - 2 * (y + CLOSABLE * gap)) <= 2  # the jaw rose by its share of the opening
    np.testing.assert_array_equal(raised[: int(landmarks[MOUTH, 1])], face[: int(landmarks[MOUTH, 1])])
    closed = landmarks.copy()
    closed[14] = closed[MOUTH]  # lips together: nothing to close
    np.testing.assert_array_equal(drop_jaw(face, closed, -6.0), face)
    assert not jaw_reach(face.shape, closed, -6.0).any()


def test_the_jaw_drops_alike_in_the_photo_and_in_its_aligned_face(astronaut):
    with FaceAligner() as aligner:
        alignment = aligner.align(astronaut, SIZE)
    drop = 6.0

    def aligned(photo: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(photo, alignment.matrix, (SIZE, SIZE), flags=cv2.INTER_AREA).astype(float)

    in_photo = aligned(drop_jaw(astronaut, alignment.mesh, drop, alignment.matrix))
    in_face = drop_jaw(alignment.face, alignment.mesh, drop).astype(float)
    reach = jaw_reach(alignment.face.shape, alignment.mesh, drop)
    change = np.abs(in_face - alignment.face)[reach].mean()
    assert change > 2
    assert np.abs(in_photo - in_face)[reach].mean() < 0.3 * change


def test_an_opening_mouth_changes_the_photo_only_over_the_mouth_and_the_jaw(tiny_model, projected):
    filler, size = FaceFiller(tiny_model), tiny_model.config.image_size
    vectors = np.zeros((1, tiny_model.config.z_dim), np.float32)
    vectors[0, 0] = 1
    directions = Directions(["mouth_open"], vectors, np.zeros((4, tiny_model.config.z_dim), np.float32),
                            np.full((4, len(ATTRIBUTES)), np.nan), {})
    photo, alignment = projected.source
    opening = {"mouth_open": 3.0}
    moved = photo_fill(photo.shape, alignment, edit_region(projected.landmarks, opening, size)) | jaw_reach(
        photo.shape, projected.landmarks, JAW_DROP.drop(opening, size), alignment.matrix)
    opened = edit_face(filler, directions, projected, opening)
    np.testing.assert_array_equal(opened.pasted[~moved], photo[~moved])
    unwarped = edit_face(filler, directions, projected, opening, jaw=JawDrop(per_unit=0.0))
    assert np.abs(opened.pasted.astype(int) - unwarped.pasted).max() > 8
    assert np.abs(opened.face.astype(int) - unwarped.face).max() > 8
    closing = {"mouth_open": -3.0}
    closed = edit_face(filler, directions, projected, closing)
    moved = photo_fill(photo.shape, alignment, edit_region(projected.landmarks, closing, size)) | jaw_reach(
        photo.shape, projected.landmarks, JAW_DROP.drop(closing, size), alignment.matrix)
    np.testing.assert_array_equal(closed.pasted[~moved], photo[~moved])


def test_the_edit_report_measures_only_the_directions_it_is_given(tmp_path, tiny_weights, capsys):
    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights, folder)
    save_directions(folder, directions_for(read_model_json(folder)["config"].z_dim))
    with pytest.raises(SystemExit) as exit_:
        edit_report([str(tmp_path), "--weights", str(folder), "--directions", "smile", "grin"])
    assert exit_.value.code == 2 and "no direction grin; there are smile, female" in capsys.readouterr().err
