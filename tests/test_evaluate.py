"""Evaluation and the realism check on a tiny model and faces it drew itself."""
import argparse
import json
import shutil
from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from core.align import FaceAligner
from core.config import CompletionConfig
from core.evaluate import convergence_curve, landmark_error, paired_differences, preset, quality, seam_jump
from core.images import to_model, to_uint8
from core.masks import center_mask, stroke_mask
from core.model import sample_z
from core.realism import detection_rate, fine_detail, swd
from tests.helpers.cli import run_cli
from tests.helpers.patterns import checkerboard


def test_quality_is_perfect_for_the_truth_and_worse_for_noise():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    same = quality(truth, truth, center_mask(32))
    assert np.isinf(same["psnr_hole"]).all() and np.allclose(same["ssim_hole"], 1)
    noisy = quality(truth, np.clip(truth.astype(int) + rng.integers(-40, 40, truth.shape), 0, 255).astype(np.uint8), center_mask(32))
    assert (noisy["psnr_hole"] < 30).all() and (noisy["ssim_full"] < 1).all()


def test_quality_does_not_count_a_checkerboard_as_detail(astronaut):
    """A fill that is the truth blurred plus a transposed convolution's checkerboard has no more detail than the blur."""
    truth = cv2.resize(astronaut[:256, 96:352], (64, 64), interpolation=cv2.INTER_AREA)[None]
    blurred = cv2.GaussianBlur(truth[0], (0, 0), 2)[None]
    patterned = np.clip(blurred + checkerboard(blurred.shape, 12), 0, 255).astype(np.uint8)
    mask = center_mask(64)
    assert quality(truth, patterned, mask)["detail"][0] == pytest.approx(quality(truth, blurred, mask)["detail"][0], abs=0.02)
    assert quality(truth, truth, mask)["detail"][0] == 1.0


def test_convergence_curve_improves(tiny_model):
    faces = to_uint8(tiny_model.generator(sample_z(2, tiny_model.config.z_dim, seed=3)).numpy())
    curve = convergence_curve(tiny_model, faces, center_mask(16), CompletionConfig(iterations=40, report_every=10, init_pool=0, learning_rate=0.05))
    assert [p["iteration"] for p in curve] == [10, 20, 30, 40]
    assert curve[-1]["loss"] < curve[0]["loss"]


def test_seam_jump_measures_the_step_across_the_holes_border():
    image = np.full((1, 16, 16, 3), 100, np.uint8)
    mask = center_mask(16)
    assert seam_jump(image, mask.fill)[0] == 0
    image[0][mask.fill] = 130  # a flat patch 30 levels brighter: every pair across the border jumps 30
    assert seam_jump(image, mask.fill)[0] == 30
    scores = quality(np.full((1, 16, 16, 3), 100, np.uint8), image, mask)
    assert scores["seam"][0] == 30 and np.isclose(scores["psnr_hole"][0], 10 * np.log10(255**2 / 30**2))


def test_quality_takes_a_mask_per_face():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    result = truth.copy()
    masks = [stroke_mask(32, 0), stroke_mask(32, 1)]
    result[1][masks[1].fill] = 0  # only the second face's own hole is wrong
    scores = quality(truth, result, masks)
    assert np.isinf(scores["psnr_hole"][0]) and scores["psnr_hole"][1] < 15


def test_landmark_check_on_a_real_face(astronaut):
    from core.align import FaceAligner

    with FaceAligner() as aligner:
        face = aligner.align(astronaut, 64).face
        moved = np.roll(face, 4, axis=1)  # the whole face 4 px to the right
        errors = landmark_error(aligner, np.stack([face, face]), np.stack([face, moved]), [center_mask(64)] * 2)
        blank = landmark_error(aligner, face[None], np.full((1, 64, 64, 3), 128, np.uint8), [center_mask(64)])
    assert errors[0] == 0 and 0.05 < errors[1] < 0.5  # 4 px of a ~30 px inter-ocular distance
    assert np.isnan(blank[0])


def test_evaluate_cli_writes_a_report(tmp_path, tiny_weights, faces_drawn_by_g):
    folder = faces_drawn_by_g(3, seed=5)
    out = tmp_path / "report"
    result = run_cli("core.evaluate", folder, "--weights", tiny_weights, "--limit", "3", "--iters", "10",
                     "--seed-iters", "10", "--masks", "center", "strokes", "--out", out)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["faces"] == 3 and set(report["results"]) == {"center", "strokes"}
    methods = {"OpenCV Telea", "OpenCV NS", "biharmonic", "seed settings", "ours (defaults)"}
    assert set(report["results"]["strokes"]) == methods
    assert {"psnr_hole", "ssim_hole", "seam", "landmarks", "face_found"} <= set(report["results"]["center"]["biharmonic"])
    text = (out / "report.md").read_text()
    assert "## Mask strokes" in text and "| biharmonic |" in text
    assert Image.open(out / "grid_strokes.png").size == (3 * 16, 7 * 16)  # input, 5 methods, truth


def test_evaluate_photo_measures_fills_pasted_back_into_the_photos(tmp_path, tiny_weights, astronaut):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "astronaut.jpg", quality=95)
    out = tmp_path / "report"
    result = run_cli("core.evaluate", folder, "--weights", tiny_weights, "--photo", "--limit", "1", "--iters",
                     "5", "--masks", "center", "--out", out)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "photo.json").read_text())
    rows = report["center"]
    assert set(rows) == {"OpenCV Telea", "ours, no photo detail", "ours (defaults)"}
    for row in rows.values():
        assert {"psnr_hole", "detail", "in_place", "seam"} <= set(row) and 0 < row["psnr_hole"] < 60
    assert rows["ours (defaults)"]["detail"] > rows["ours, no photo detail"]["detail"]  # the photo's grain is added
    # The tiny 16 px model's face is enlarged 5.5x into the 512 px photo (the 128 px model's is shrunk: 0.7).
    low, middle, high = report["photo_px_per_model_px"]
    assert low == middle == high and 4 < middle < 7
    assert "photo px per model px (median" in result.stdout


def test_a_face_is_found_in_faces_and_not_in_noise(tiny_model, astronaut):
    """detection_rate counts the samples in which MediaPipe finds a face: all of a G that draws a real face, none of
    an untrained G's noise."""
    from types import SimpleNamespace

    import tensorflow as tf

    with FaceAligner() as aligner:
        face = to_model(aligner.align(astronaut, 64).face)
    draws_a_face = SimpleNamespace(config=tiny_model.config,
                                   generator=lambda z, training: tf.repeat(face[None], len(z), axis=0))
    assert detection_rate(draws_a_face, samples=4, batch=2) == 1.0
    assert detection_rate(tiny_model, samples=4, batch=2) == 0.0


def test_evaluate_compares_weights_on_the_same_faces_without_baselines(tmp_path, tiny_weights, faces_drawn_by_g):
    folder = faces_drawn_by_g(2, seed=5)
    other = shutil.copytree(tiny_weights, tmp_path / "other")
    out = tmp_path / "report"
    result = run_cli("core.evaluate", folder, "--weights", tiny_weights, other, "--no-baselines",
                     "--no-landmarks", "--limit", "2", "--iters", "5", "--masks", "center", "--out", out)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert set(report["results"]["center"]) == {f"ours ({tiny_weights})", f"ours ({other})"}
    scores = list(report["results"]["center"].values())
    assert scores[0]["psnr_hole"] == pytest.approx(scores[1]["psnr_hole"])  # same weights, same faces, same masks
    difference = report["differences"]["center"][f"ours ({other})"]
    assert set(difference) == {"psnr_hole", "ssim_hole", "detail", "seam"} and difference["psnr_hole"] == [0.0, 0.0, 2]
    assert f"ours ({other}) - ours ({tiny_weights}): psnr_hole +0.000" in result.stdout


@pytest.mark.parametrize("mode, several", [
    (["--variants", "2"], ["--configs", "default", "spread-starts"]),
    (["--photo"], ["--configs", "default", "spread-starts"]),
    (["--photo"], ["--weights", "WEIGHTS", "WEIGHTS"]),  # was: the second model silently left out
    (["--curve"], ["--weights", "WEIGHTS", "WEIGHTS"]),
])
def test_one_model_modes_refuse_several_models_or_settings_not_measure_the_first_alone(tiny_weights, faces_drawn_by_g,
                                                                                     mode, several):
    several = [str(tiny_weights) if arg == "WEIGHTS" else arg for arg in several]
    result = run_cli("core.evaluate", faces_drawn_by_g(2, seed=5), "--weights", tiny_weights, *mode, *several,
                     "--no-baselines")
    assert result.returncode == 2 and f"{mode[0]} measures one model with one setting" in result.stderr, result.stderr


def test_models_of_two_sizes_and_named_settings_are_compared_at_the_larger_size(tmp_path, tiny_weights, tiny_config,
                                                                                tiny_model):
    """A 16 px and a 32 px model, each with the default and the thorough settings, on the same 32 px faces: the
    smaller model's fill is enlarged, and every known pixel stays the truth's."""
    from dataclasses import replace

    import cv2

    from core.evaluate import gan_method
    from core.model import build_discriminator, build_generator
    from core.weights import save_model

    bigger = replace(tiny_config, image_size=32)
    save_model(tmp_path / "bigger", bigger, build_generator(bigger), build_discriminator(bigger))
    faces = to_uint8(tiny_model.generator(sample_z(2, tiny_config.z_dim, seed=5)).numpy())
    folder = tmp_path / "faces"
    folder.mkdir()
    large = np.stack([cv2.resize(face, (32, 32), interpolation=cv2.INTER_CUBIC) for face in faces])
    for i, face in enumerate(large):
        Image.fromarray(face).save(folder / f"{i}.png")
    mask = center_mask(32)
    filled = gan_method(tiny_model, CompletionConfig(iterations=4, init_pool=8, tune_steps=1))(large, [mask] * 2)
    assert filled.shape == large.shape
    np.testing.assert_array_equal(filled[:, ~mask.fill], large[:, ~mask.fill])
    assert np.abs(filled[:, mask.fill].astype(int) - large[:, mask.fill]).mean() > 1  # the hole was filled

    out = tmp_path / "report"
    result = run_cli("core.evaluate", folder, "--weights", tmp_path / "bigger", tiny_weights, "--configs",
                     "default", "thorough", "--iters", "4", "--no-baselines", "--no-landmarks", "--limit",
                     "2", "--masks", "center", "--out", out)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["size"] == 32 and report["faces"] == 2
    names = [f"ours ({folder}, {config})" for folder in (tmp_path / "bigger", tiny_weights)
             for config in ("default", "thorough")]
    assert list(report["results"]["center"]) == names
    assert 0 < report["results"]["center"][names[2]]["detail"]
    assert set(report["differences"]["center"]) == set(names[1:])
    assert "| detail |" in (out / "report.md").read_text()


def test_paired_differences_skip_faces_without_a_figure():
    before = {"per_face": {"psnr_hole": [20.0, 22.0, 24.0], "landmarks": [0.1, float("nan"), 0.3]}}
    after = {"per_face": {"psnr_hole": [21.0, 23.0, 26.0], "landmarks": [0.05, 0.2, float("nan")]}}
    differences = paired_differences(after, before)
    mean, se, n = differences["psnr_hole"]
    assert (mean, n) == (pytest.approx(4 / 3), 3) and se == pytest.approx(np.std([1, 1, 2], ddof=1) / np.sqrt(3))
    assert differences["landmarks"] == (pytest.approx(-0.05), 0.0, 1)


def _crops(image: np.ndarray, count: int, seed: int) -> np.ndarray:
    """count random 64x64 crops of image: a small 'distribution' of real texture and layout."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, np.array(image.shape[:2]) - 64, (count, 2))
    return np.stack([image[y : y + 64, x : x + 64] for y, x in corners])


def test_swd_tells_blur_and_noise_from_more_of_the_same(astronaut):
    real, more = _crops(astronaut, 96, seed=1), _crops(astronaut, 96, seed=2)
    blurred = np.stack([cv2.GaussianBlur(crop, (5, 5), 1.5) for crop in more])
    noise = np.random.default_rng(3).integers(0, 256, more.shape, dtype=np.uint8)
    # 32 patches an image, not 128: a quarter of the sorting, and blur still more than doubles the finest band's.
    floor, blur, random = swd(real, more, 32), swd(real, blurred, 32), swd(real, noise, 32)
    assert list(floor) == [64, 32, 16]
    assert blur[64] > 2 * floor[64]  # blur removes the finest band
    assert all(random[side] > 2 * floor[side] for side in floor)
    with pytest.raises(ValueError, match="equal numbers"):
        swd(real, more[:10])


def test_fine_detail_tells_a_checkerboard_from_texture(astronaut):
    """More of the same reads 1.0 both ways; a checkerboard on it raises the drawn figure only; a blur lowers both."""
    real, more = _crops(astronaut, 96, seed=1), _crops(astronaut, 96, seed=2)
    patterned = np.clip(more + checkerboard(more.shape, 10), 0, 255).astype(np.uint8)
    blurred = np.stack([cv2.GaussianBlur(crop, (5, 5), 1.5) for crop in more])
    assert fine_detail(real, more) == pytest.approx((1.0, 1.0), abs=0.2)
    drawn, below_nyquist = fine_detail(real, patterned)
    assert drawn > 1.5 and below_nyquist == pytest.approx(fine_detail(real, more)[1], abs=0.05)
    assert max(fine_detail(real, blurred)) < 0.3


def test_realism_cli_compares_models_on_the_same_z(tmp_path, tiny_weights):
    real = tmp_path / "real"
    real.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(real / f"{i}.png")
    other = shutil.copytree(tiny_weights, tmp_path / "other")
    grid = tmp_path / "grid.png"
    result = run_cli("core.realism", "--weights", tiny_weights, other, "--samples", "4", "--real", real,
                     "--grid", grid)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "SWD" in line]
    assert len(lines) == 3 and "the floor" in lines[0]
    assert lines[1].split(":", 1)[1] == lines[2].split(":", 1)[1]  # same weights, same z: same figures
    assert "below Nyquist" in lines[1]
    assert Image.open(grid).size == (4 * 16, 2 * 16)
    too_few = run_cli("core.realism", "--weights", tiny_weights, "--samples", "5", "--real", real)
    assert too_few.returncode == 2 and "10 are needed" in too_few.stderr


def test_weights_of_different_sizes_are_not_compared(tmp_path, tiny_weights, tiny_config):
    from dataclasses import replace

    from core.model import build_discriminator, build_generator
    from core.weights import WeightsError, load_models, save_model

    bigger = replace(tiny_config, image_size=32)
    save_model(tmp_path / "bigger", bigger, build_generator(bigger), build_discriminator(bigger))
    assert list(load_models([tiny_weights, tiny_weights])) == [tiny_weights]
    with pytest.raises(WeightsError, match=r"different image sizes \(\[16, 32\]\)"):
        load_models([tiny_weights, tmp_path / "bigger"])
    # core.realism compares them as a user sees them: the smaller model's samples enlarged to the larger size.
    models = load_models([tiny_weights, tmp_path / "bigger"], same_size=False)
    from core.realism import generate

    small, enlarged = generate(models[tiny_weights], 3), generate(models[tiny_weights], 3, size=32)
    assert small.shape == (3, 16, 16, 3) and enlarged.shape == (3, 32, 32, 3)
    assert np.abs(enlarged[:, ::2, ::2].astype(int) - small).mean() < 20  # the same faces, enlarged


def test_variants_are_measured_against_the_single_fill(monkeypatch):
    """On fills of known error (the single fill and the first variant 10 grey levels off in the hole, the others 20
    and 30), every figure is the one those errors give."""
    from types import SimpleNamespace

    from core import evaluate

    class KnownFills:
        def __init__(self, model, directions=None):
            pass

        def complete(self, images, masks, config, callback=None, keep_tuned=False):
            fills = images.copy()
            for fill, mask in zip(fills, masks):
                fill[mask.fill] += 10
            return self.completion(fills)

        def other_fills(self, images, masks, first, count, config):
            fills = np.repeat(images, count, axis=0)
            for row, fill in enumerate(fills):
                fill[masks[0].fill] += 10 * (row % count + 2)
            return self.completion(fills)

        @staticmethod
        def completion(fills):
            return SimpleNamespace(blended=fills, generated=fills / 127.5 - 1, loss=np.zeros(len(fills)), iterations=1)

    monkeypatch.setattr(evaluate, "FaceFiller", KnownFills)
    faces = np.random.default_rng(0).integers(50, 150, (2, 16, 16, 3)).astype(np.uint8)
    summary = evaluate.evaluate_variants(None, faces, [center_mask(16)] * 2, CompletionConfig(blend=False), 3)

    def psnr(error: float) -> float:
        return 10 * np.log10(255**2 / error**2)

    assert summary["single_psnr_hole"] == pytest.approx(psnr(10))
    assert summary["first_psnr_hole"] == summary["best_psnr_hole"] == pytest.approx(psnr(10))
    assert summary["mean_psnr_hole"] == pytest.approx(np.mean([psnr(10), psnr(20), psnr(30)]))
    assert summary["pairwise_difference"] == pytest.approx((10 + 20 + 10) / 3)  # |1-2|, |1-3|, |2-3| x 10


def test_photo_figures_see_the_grain_a_fill_lacks(astronaut):
    from core.evaluate import photo_figures

    fill = np.zeros(astronaut.shape[:2], bool)
    fill[100:180, 180:260] = True  # the face's middle
    smooth = astronaut.copy()
    smooth[fill] = cv2.GaussianBlur(astronaut, (0, 0), 4)[fill]
    assert photo_figures(astronaut, astronaut, fill) == {"psnr_hole": float("inf"), "detail": 1.0, "in_place": 1.0,
                                                         "seam": 0.0}
    blurred = photo_figures(astronaut, smooth, fill)
    assert blurred["detail"] < 0.2 and blurred["in_place"] < 0.2
    assert np.isfinite(blurred["seam"]) and 20 < blurred["psnr_hole"] < 40


def test_each_model_is_evaluated_with_its_own_defaults_and_the_command_lines_changes(tiny_model):
    own = replace(tiny_model, card={"completion": {"tune_steps": 7}})
    plain = argparse.Namespace(restarts=1, iters=None, tune_steps=None)
    assert preset("default", own, plain).tune_steps == 7
    assert preset("default", tiny_model, plain).tune_steps == CompletionConfig().tune_steps
    assert preset("short-tuning", own, plain).tune_steps == 25
    changed = preset("default", own, argparse.Namespace(restarts=2, iters=3, tune_steps=0))
    assert (changed.restarts, changed.iterations, changed.tune_steps) == (2, 3, 0)
