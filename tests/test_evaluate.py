"""Evaluation and the realism check on a tiny model and faces it drew itself."""
import json
import subprocess
import sys

import numpy as np
from PIL import Image

from core.evaluate import convergence_curve, quality
from core.config import CompletionConfig
from core.images import to_uint8
from core.masks import center_mask
from core.model import sample_z
from core.realism import detection_rate


def test_quality_is_perfect_for_the_truth_and_worse_for_noise():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    same = quality(truth, truth, center_mask(32))
    assert np.isinf(same["psnr_hole"]).all() and np.allclose(same["ssim_hole"], 1)
    noisy = quality(truth, np.clip(truth.astype(int) + rng.integers(-40, 40, truth.shape), 0, 255).astype(np.uint8), center_mask(32))
    assert (noisy["psnr_hole"] < 30).all() and (noisy["ssim_full"] < 1).all()


def test_convergence_curve_improves(tiny_model):
    faces = to_uint8(tiny_model.generator(sample_z(2, tiny_model.config.z_dim, seed=3)).numpy())
    curve = convergence_curve(tiny_model, faces, center_mask(16), CompletionConfig(iterations=40, report_every=10, init_pool=0, learning_rate=0.05))
    assert [p["iteration"] for p in curve] == [10, 20, 30, 40]
    assert curve[-1]["loss"] < curve[0]["loss"]


def test_evaluate_cli_writes_a_report(tmp_path, tiny_weights, tiny_model):
    faces = to_uint8(tiny_model.generator(sample_z(3, tiny_model.config.z_dim, seed=5)).numpy())
    folder = tmp_path / "faces"
    folder.mkdir()
    for i, face in enumerate(faces):
        Image.fromarray(face).save(folder / f"{i}.png")
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "core.evaluate", str(folder), "--weights", str(tiny_weights), "--limit", "3",
         "--iters", "10", "--seed-iters", "10", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["faces"] == 3
    assert set(report["results"]) == {"OpenCV Telea", "OpenCV NS", "seed settings", "ours (defaults)"}
    assert "| OpenCV Telea |" in (out / "report.md").read_text()
    assert Image.open(out / "grid.png").size == (3 * 16, 6 * 16)  # input, 4 methods, truth


def test_noise_is_not_a_face(tiny_model):
    assert detection_rate(tiny_model, samples=4, batch=2) == 0.0
