"""Completion quality on a folder of face photos, against baselines run in the same process.

python -m core.evaluate DIR --weights weights --mask center --limit 64 --out reports/eval

Faces are aligned, masked, and filled by: OpenCV's Telea and Navier-Stokes
inpainting (for the low-resolution mask: bicubic upsampling), the seed's
exact settings (lambda 0.1, Adam lr 0.01, 1000 iterations, 1 start, no
blending) and the project's defaults. PSNR and SSIM (tf.image) are measured
on the whole image and on the hole's bounding box against the true face.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import tensorflow as tf

import core
from core.align import FaceAligner, find_images
from core.complete import Completer, load_faces
from core.config import SEED_COMPLETION, CompletionConfig
from core.images import image_grid, save_png, to_uint8
from core.masks import PRESETS, Mask, masked_preview, preset_mask
from core.weights import TrainedModel, load_model


def quality(truth: np.ndarray, result: np.ndarray, mask: Mask) -> dict[str, np.ndarray]:
    """Per-image PSNR/SSIM (uint8 inputs, N x H x W x 3) of the whole image and of the hole's box."""
    fill = mask.known < 0.5 if mask.lowres_factor == 1 else np.ones_like(mask.known, bool)
    rows, cols = np.where(fill)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    t, r = tf.constant(truth), tf.constant(result)
    tb, rb = t[:, box[0], box[1]], r[:, box[0], box[1]]
    filter_size = min(11, tb.shape[1], tb.shape[2])
    return {
        "psnr_hole": tf.image.psnr(tb, rb, 255).numpy(),
        "ssim_hole": tf.image.ssim(tb, rb, 255, filter_size=filter_size).numpy(),
        "psnr_full": tf.image.psnr(t, r, 255).numpy(),
        "ssim_full": tf.image.ssim(t, r, 255).numpy(),
    }


def opencv_inpaint(flag: int) -> Callable[[np.ndarray, Mask], np.ndarray]:
    def run(faces: np.ndarray, mask: Mask) -> np.ndarray:
        if mask.lowres_factor > 1:  # nothing to inpaint from: upsample the known low-res image
            size, f = faces.shape[1], mask.lowres_factor
            return np.stack([
                cv2.resize(masked_preview(face, mask)[::f, ::f], (size, size), interpolation=cv2.INTER_CUBIC)
                for face in faces
            ])
        hole = (mask.known < 0.5).astype(np.uint8) * 255
        return np.stack([cv2.inpaint(masked_preview(f, mask), hole, 3, flag) for f in faces])

    return run


def gan_method(model: TrainedModel, config: CompletionConfig) -> Callable[[np.ndarray, Mask], np.ndarray]:
    completer = Completer(model)
    return lambda faces, mask: completer.complete(faces, mask, config).blended


def evaluate(
    faces: np.ndarray, mask: Mask, methods: dict[str, Callable[[np.ndarray, Mask], np.ndarray]]
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Run every method on the same faces; returns summary figures and each method's outputs."""
    summary, outputs = {}, {}
    for name, method in methods.items():
        start = time.perf_counter()
        outputs[name] = method(faces, mask)
        seconds = time.perf_counter() - start
        scores = quality(faces, outputs[name], mask)
        summary[name] = {k: float(v.mean()) for k, v in scores.items()}
        summary[name].update({f"{k}_std": float(v.std()) for k, v in scores.items()})
        summary[name]["seconds_per_face"] = seconds / len(faces)
        print(f"{name:>14}: PSNR hole {summary[name]['psnr_hole']:.2f} dB, SSIM hole {summary[name]['ssim_hole']:.3f}, "
              f"{summary[name]['seconds_per_face']:.2f} s/face", flush=True)
    return summary, outputs


def convergence_curve(
    model: TrainedModel, faces: np.ndarray, mask: Mask, config: CompletionConfig
) -> list[dict[str, float]]:
    """Mean loss and hole PSNR/SSIM of the (unblended) completion at every report, for choosing iterations."""
    curve = []

    def record(iteration: int, loss: np.ndarray, preview: np.ndarray) -> None:
        scores = quality(faces, to_uint8(preview), mask)
        curve.append({"iteration": iteration, "loss": float(loss.mean()), "seconds": time.perf_counter() - start,
                      "psnr_hole": float(scores["psnr_hole"].mean()), "ssim_hole": float(scores["ssim_hole"].mean())})

    start = time.perf_counter()
    Completer(model).complete(faces, mask, config, record)
    return curve


def markdown_table(summary: dict[str, dict[str, float]]) -> str:
    lines = [
        "| method | PSNR hole (dB) | SSIM hole | PSNR image (dB) | SSIM image | s / face |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['psnr_hole']:.2f} ± {s['psnr_hole_std']:.2f} | {s['ssim_hole']:.3f} | "
            f"{s['psnr_full']:.2f} | {s['ssim_full']:.3f} | {s['seconds_per_face']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    core.assume_frozen_weights()
    defaults = CompletionConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of face photos (aligned on the fly)")
    parser.add_argument("--weights", type=Path, default=Path("weights"))
    parser.add_argument("--mask", choices=PRESETS, default="center")
    parser.add_argument("--limit", type=int, default=64, help="evaluate the first N usable faces (sorted by name)")
    parser.add_argument("--out", type=Path, default=Path("reports/eval"))
    parser.add_argument("--iters", type=int, default=defaults.iterations, help="iterations of the project's defaults")
    parser.add_argument("--restarts", type=int, default=defaults.restarts)
    parser.add_argument("--seed-iters", type=int, default=SEED_COMPLETION.iterations, help="iterations of the seed baseline")
    parser.add_argument("--curve", action="store_true",
                        help="instead: hole PSNR against iterations for the seed's and the project's settings")
    args = parser.parse_args(argv)

    model = load_model(args.weights)
    size = model.config.image_size
    paths = find_images(args.folder)
    if not paths:
        parser.exit(2, f"error: no images in {args.folder}\n")
    faces: list[np.ndarray] = []
    skipped = 0
    with FaceAligner(max_faces=1) as aligner:
        for start in range(0, len(paths), args.limit):
            batch, _, errors = load_faces(paths[start : start + args.limit], size, aligner)
            faces += batch
            skipped += len(errors)
            if len(faces) >= args.limit:
                break
    faces_array = np.stack(faces[: args.limit])
    mask = preset_mask(args.mask, size)
    ours = CompletionConfig(iterations=args.iters, restarts=args.restarts)
    seed = CompletionConfig(**{**asdict(SEED_COMPLETION), "iterations": args.seed_iters})
    methods = {
        "OpenCV Telea": opencv_inpaint(cv2.INPAINT_TELEA),
        "OpenCV NS": opencv_inpaint(cv2.INPAINT_NS),
        "seed settings": gan_method(model, seed),
        "ours (defaults)": gan_method(model, ours),
    }
    print(f"{len(faces_array)} faces from {args.folder} ({skipped} photos skipped), mask {args.mask}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.curve:
        curves = {}
        for name, config in (("seed settings", seed), ("ours (defaults)", ours)):
            report_every = max(1, config.iterations // 40)
            curves[name] = convergence_curve(model, faces_array, mask, replace(config, report_every=report_every, blend=False))
            for point in curves[name]:
                print(f"{name:>16} iteration {point['iteration']:5d}: loss {point['loss']:8.1f}, "
                      f"PSNR hole {point['psnr_hole']:.2f} dB, SSIM hole {point['ssim_hole']:.3f}, {point['seconds']:.1f} s")
        (args.out / "curve.json").write_text(json.dumps(curves, indent=2))
        return
    summary, outputs = evaluate(faces_array, mask, methods)

    report = {
        "folder": str(args.folder), "faces": len(faces_array), "skipped": skipped, "mask": args.mask,
        "weights": str(args.weights), "ours": asdict(ours), "seed": asdict(seed), "results": summary,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    table = markdown_table(summary)
    (args.out / "report.md").write_text(
        f"# Completion on {args.folder} ({len(faces_array)} faces, mask {args.mask})\n\n{table}\n\n"
        "Hole figures are on the hole's bounding box; rows of the grid: input, "
        + ", ".join(methods) + ", truth.\n"
    )
    shown = slice(0, min(8, len(faces_array)))
    rows = [np.stack([masked_preview(f, mask) for f in faces_array[shown]])]
    rows += [outputs[name][shown] for name in methods] + [faces_array[shown]]
    save_png(args.out / "grid.png", image_grid(np.concatenate(rows), columns=shown.stop))
    print(table)
    print(f"report: {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
