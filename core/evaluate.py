"""Completion quality on a folder of face photos, against baselines run in the same process.

python -m core.evaluate DIR --weights weights --masks center left strokes --limit 64 --out reports/eval
python -m core.evaluate DIR --weights weights runs/ema/model --no-baselines   (before/after a retraining)
python -m core.evaluate DIR --configs default thorough --no-baselines          (named settings, core.config)
python -m core.evaluate DIR --weights weights-128 weights-64 --no-baselines     (models of two sizes)

Faces are aligned, masked (stroke masks differ per face, from a fixed seed), and filled by
OpenCV's Telea and Navier-Stokes inpainting, scikit-image's biharmonic inpainting, the
seed's exact settings and the project's defaults (with each --weights folder and --configs preset in turn).
Models of different sizes are compared at the largest: a smaller model fills the face shrunk to its size,
and its fill is enlarged and blended against the true known pixels, as the app pastes a fill into a larger
photo. For each mask and method: PSNR over the hole's pixels, SSIM over the hole's bounding box, the detail
ratio (the hole's high-frequency energy over the truth's there, 1.0 = as detailed as the truth; below the Nyquist
frequency, where a generator's checkerboard lies, except with --photo), the seam
excess (the jump across the hole's border beyond the true image's jump there, in grey levels; negative =
smoother than the truth), and a landmark check (mediapipe's landmarks in the hole, completed against true
face, over the inter-ocular distance; with how often a face is found at all).
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from core.align import FaceAligner, find_images, load_faces
from core.cli import argument_parser
from core.face_filler import FaceFiller
from core.config import COMPLETION_PRESETS, SEED_COMPLETION, CompletionConfig, completion_preset
from core.detail import detail_in_place, detail_ratio, without_checkerboard
from core.directions import Directions, load_directions
from core.images import image_grid, save_png, to_uint8
from core.masks import PRESETS, Mask, masked_preview, preset_mask
from core.blend import blend_in, neighbour_slices
from core.inpaint import FillRequest, complete_faces, paste_back, photo_fill
from core.realism import faces_found, swd
from core.weights import TrainedModel, WeightsError, load_models

Method = Callable[[np.ndarray, list[Mask]], np.ndarray]
OUTER_EYE_CORNERS = (33, 263)  # mediapipe face-mesh indices
LANDMARK_SCALE = 4  # faces are enlarged before landmarking: mediapipe needs more than 64 px


def seam_jump(images: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Mean absolute step (grey levels, over channels) across the hole's border, per image (N, H, W, 3)."""
    images = images.astype(np.float32)
    total, pairs = np.zeros(len(images)), 0
    for dy, dx in ((0, 1), (1, 0)):  # each pair once: right and down neighbours
        a, b = neighbour_slices(fill.shape, dy, dx)
        across = fill[a] != fill[b]  # neighbours with one pixel filled and the other known
        step = np.abs(images[:, a[0], a[1]] - images[:, b[0], b[1]])[:, across].mean(axis=-1)
        total += step.sum(axis=1)
        pairs += int(across.sum())
    return total / max(pairs, 1)


def hole_psnr(truth: np.ndarray, result: np.ndarray, fill: np.ndarray) -> float:
    """PSNR of result against truth over the hole's pixels (inf where they are equal)."""
    mse = float(((truth[fill].astype(np.float64) - result[fill]) ** 2).mean())
    return 10 * np.log10(255.0**2 / mse) if mse > 0 else float("inf")


def seam_excess(truth: np.ndarray, result: np.ndarray, fill: np.ndarray) -> float:
    """The jump across the hole's border in result beyond truth's jump there, in grey levels (negative: smoother)."""
    jumps = seam_jump(np.stack([result, truth]), fill)
    return float(jumps[0] - jumps[1])


def quality(truth: np.ndarray, result: np.ndarray, masks: Mask | list[Mask]) -> dict[str, np.ndarray]:
    """Per-image figures (uint8 inputs, N x H x W x 3) of result against truth.

    psnr_hole: over the hole's pixels; ssim_hole: over the hole's bounding box (SSIM needs
    windows); detail: the hole's high-frequency energy over the truth's (core.detail.detail_ratio), both without
    their Nyquist frequency (core.detail.without_checkerboard), so a model's checkerboard does not count as detail;
    seam: the jump across the hole's border minus the true image's jump there;
    psnr_full, ssim_full: the whole image.
    """
    masks = [masks] * len(truth) if isinstance(masks, Mask) else masks
    t, r = truth.astype(np.float64), result.astype(np.float64)
    psnr, ssim, detail, seam = [], [], [], []
    for ti, ri, mask in zip(t, r, masks):
        fill = mask.fill
        psnr.append(hole_psnr(ti, ri, fill))
        detail.append(detail_ratio(without_checkerboard(ri), without_checkerboard(ti), fill))
        rows, cols = np.where(fill)
        box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        filter_size = min(11, box[0].stop - box[0].start, box[1].stop - box[1].start)
        ssim.append(float(tf.image.ssim(ti[box].astype(np.float32), ri[box].astype(np.float32), 255,
                                        filter_size=filter_size)))
        seam.append(0.0 if fill.all() else seam_excess(ti, ri, fill))
    tt, rt = tf.constant(truth), tf.constant(result)
    return {
        "psnr_hole": np.array(psnr), "ssim_hole": np.array(ssim), "detail": np.array(detail), "seam": np.array(seam),
        "psnr_full": tf.image.psnr(tt, rt, 255).numpy(), "ssim_full": tf.image.ssim(tt, rt, 255).numpy(),
    }


def landmark_error(aligner: FaceAligner, truth: np.ndarray, results: np.ndarray, masks: list[Mask]) -> np.ndarray:
    """Per face: mean distance between mediapipe's landmarks on the result and on the truth, over
    the landmarks that lie in the hole (all of them if none do), in inter-ocular distances.
    NaN where no face is found in the result (or in the truth)."""
    errors = []
    for t, r, mask in zip(truth, results, masks):
        found = [aligner.landmarks(cv2.resize(image, None, fx=LANDMARK_SCALE, fy=LANDMARK_SCALE,
                                              interpolation=cv2.INTER_CUBIC)) for image in (t, r)]
        if not all(found):
            errors.append(np.nan)
            continue
        true_points, result_points = found[0][0] / LANDMARK_SCALE, found[1][0] / LANDMARK_SCALE
        size = mask.fill.shape[0]
        cells = np.clip(np.round(true_points).astype(int), 0, size - 1)
        in_hole = mask.fill[cells[:, 1], cells[:, 0]]
        chosen = in_hole if in_hole.any() else np.ones_like(in_hole)
        eyes = np.linalg.norm(true_points[OUTER_EYE_CORNERS[0]] - true_points[OUTER_EYE_CORNERS[1]])
        errors.append(float(np.linalg.norm(result_points[chosen] - true_points[chosen], axis=1).mean() / eyes))
    return np.array(errors)


def opencv_inpaint(flag: int) -> Method:
    def run(faces: np.ndarray, masks: list[Mask]) -> np.ndarray:
        return np.stack([cv2.inpaint(masked_preview(f, m), m.fill.astype(np.uint8) * 255, 3, flag)
                         for f, m in zip(faces, masks)])

    return run


def biharmonic_inpaint(faces: np.ndarray, masks: list[Mask]) -> np.ndarray:
    from skimage.restoration import inpaint_biharmonic

    return np.stack([to_uint8(inpaint_biharmonic(f / 127.5 - 1, m.fill, channel_axis=-1)) for f, m in zip(faces, masks)])


def filled_faces(filler: FaceFiller, faces: np.ndarray, masks: list[Mask], config: CompletionConfig,
                 fills: int = 1) -> np.ndarray:
    """fills fills of each aligned face (uint8), blended into it as the app blends them (core.inpaint.complete_faces),
    (N, fills, S, S, 3)."""
    requests = [FillRequest(face, mask) for face, mask in zip(faces, masks)]
    return np.array([[fill.completed for fill in face] for face in complete_faces(filler, requests, config, fills)])


def gan_method(model: TrainedModel, config: CompletionConfig) -> Method:
    """The model's fills; faces larger than the model are shrunk to it, and its fill (G'(z^)) is enlarged back and
    blended at the faces' size against their true known pixels, as the app pastes a fill into a larger photo
    (without the photo's own detail: this compares what the models draw)."""
    filler = FaceFiller(model)
    own = model.config.image_size

    def run(faces: np.ndarray, masks: list[Mask]) -> np.ndarray:
        size = faces.shape[1]
        if size == own:
            return filled_faces(filler, faces, masks, config)[:, 0]
        small_faces = np.stack([cv2.resize(face, (own, own), interpolation=cv2.INTER_AREA) for face in faces])
        small_masks = [Mask((cv2.resize(mask.fill.astype(np.float32), (own, own), interpolation=cv2.INTER_AREA) == 0)
                            .astype(np.float32)) for mask in masks]  # a model pixel with any of the hole is filled
        generated = filler.complete(small_faces, small_masks, config).generated
        return np.stack([blend_in(face, drawn, mask, config) for face, mask, drawn in zip(faces, masks, generated)])

    return run


def evaluate(
    faces: np.ndarray, masks: list[Mask], methods: dict[str, Method], aligner: FaceAligner | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Run every method on the same faces and masks; returns summary figures and each method's outputs.

    With an aligner, the landmark check runs too.
    """
    summary, outputs = {}, {}
    for name, method in methods.items():
        start = time.perf_counter()
        outputs[name] = method(faces, masks)
        seconds = time.perf_counter() - start
        scores = quality(faces, outputs[name], masks)
        summary[name] = {k: float(v.mean()) for k, v in scores.items()}
        summary[name].update({f"{k}_std": float(v.std()) for k, v in scores.items()})
        if aligner is not None:
            landmarks = landmark_error(aligner, faces, outputs[name], masks)
            scores["landmarks"] = landmarks
            summary[name]["landmarks"] = float(np.nanmean(landmarks)) if np.isfinite(landmarks).any() else float("nan")
            summary[name]["face_found"] = float(np.isfinite(landmarks).mean())
        summary[name]["seconds_per_face"] = seconds / len(faces)
        summary[name]["per_face"] = {k: [float(x) for x in v] for k, v in scores.items()}
        s = summary[name]
        print(f"{name:>16}: PSNR hole {s['psnr_hole']:.2f} dB, SSIM hole {s['ssim_hole']:.3f}, detail {s['detail']:.2f}, "
              f"seam {s['seam']:+.2f}, "
              f"landmarks {s.get('landmarks', float('nan')):.3f}, {s['seconds_per_face']:.2f} s/face", flush=True)
    return summary, outputs


def photo_figures(truth: np.ndarray, result: np.ndarray, fill: np.ndarray) -> dict[str, float]:
    """A filled photo against the true one at the photo's resolution, over the photo's hole (fill): PSNR, the
    detail ratio (core.detail.detail_ratio, 1.0 = as detailed as the truth), how much of that detail is the truth's in
    its place (core.detail.detail_in_place) and the seam excess."""
    return {"psnr_hole": hole_psnr(truth, result, fill), "detail": detail_ratio(result, truth, fill),
            "in_place": detail_in_place(result, truth, fill), "seam": seam_excess(truth, result, fill)}


def evaluate_photos(model: TrainedModel, faces: np.ndarray, sources: list, masks: list[Mask],
                    config: CompletionConfig) -> dict[str, dict[str, float]]:
    """The fills pasted back into their photos, with and without the photo's own fine detail (core.detail), and OpenCV's
    Telea run on the photo itself: mean figures at the photo's resolution (photo_figures)."""
    completion = FaceFiller(model).complete(faces, masks, config)
    figures: dict[str, list[dict[str, float]]] = {"OpenCV Telea": [], "ours, no photo detail": [], "ours (defaults)": []}
    for i, ((photo, alignment), mask) in enumerate(zip(sources, masks)):
        fill = photo_fill(photo.shape, alignment, mask)
        if not fill.any():
            continue
        telea = cv2.inpaint(photo, fill.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
        figures["OpenCV Telea"].append(photo_figures(photo, telea, fill))
        generated = (completion.generated[i] + 1) * 127.5
        for name, detail in (("ours, no photo detail", False), ("ours (defaults)", True)):
            pasted = paste_back(photo, alignment, generated, mask, replace(config, photo_detail=detail))
            figures[name].append(photo_figures(photo, pasted, fill))
    summary = {}
    for name, rows in figures.items():
        summary[name] = {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
        summary[name].update({f"{key}_se": float(np.std([row[key] for row in rows], ddof=1) / np.sqrt(len(rows)))
                              for key in rows[0]})
        s = summary[name]
        print(f"{name:>21}: PSNR hole {s['psnr_hole']:.2f} dB, detail {s['detail']:.2f} (in place {s['in_place']:.2f}), "
              f"seam {s['seam']:+.2f} ({len(rows)} photos)", flush=True)
    return summary


def hole_crops(images: np.ndarray, masks: list[Mask], side: int = 32) -> np.ndarray:
    """Each image's hole, its bounding box resized to side x side: what SWD compares of fills and the truth."""
    crops = []
    for image, mask in zip(images, masks):
        rows, cols = np.where(mask.fill)
        box = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        crops.append(cv2.resize(box, (side, side), interpolation=cv2.INTER_AREA))
    return np.stack(crops)


def evaluate_variants(model: TrainedModel, faces: np.ndarray, masks: list[Mask], config: CompletionConfig,
                      count: int, aligner: FaceAligner | None = None, directions: Directions | None = None
                      ) -> dict[str, float]:
    """count fills per face to choose from (core.inpaint.complete_faces: the first by FaceFiller.complete, the others
    by FaceFiller.other_fills) against the single fill, on the same faces and masks: how different
    they are in the hole (mean absolute difference of each pair, grey levels), the best and the mean fill's hole
    PSNR, their realism (SWD x 1e3 of the holes' patches to the true holes', core.realism, and, with an aligner, how
    often a face is found in the completed face), and what the fills cost in time over the single fill. With the
    model's directions, the other fills are edits along them, as the app makes them."""
    filler = FaceFiller(model, directions)
    filled_faces(filler, faces[:1], masks[:1], config)  # trace first, so neither timing pays for it
    start = time.perf_counter()
    single = filled_faces(filler, faces, masks, config)[:, 0]
    single_seconds = time.perf_counter() - start
    filled_faces(filler, faces[:1], masks[:1], config, count)
    start = time.perf_counter()
    fills = np.concatenate([filled_faces(filler, faces[i : i + 8], masks[i : i + 8], config, count)
                            for i in range(0, len(faces), 8)])
    variant_seconds = time.perf_counter() - start
    psnr = np.stack([quality(faces, fills[:, k], masks)["psnr_hole"] for k in range(count)], axis=1)
    pairs = [np.abs(fills[i, a][m.fill].astype(float) - fills[i, b][m.fill]).mean()
             for i, m in enumerate(masks) for a in range(count) for b in range(a + 1, count)]
    truth = hole_crops(faces, masks)
    hole_swd = [float(np.mean(list(swd(truth, hole_crops(images, masks)).values())))
                for images in (single, *fills.transpose(1, 0, 2, 3, 4))]
    summary = {
        "single_psnr_hole": float(quality(faces, single, masks)["psnr_hole"].mean()),
        "best_psnr_hole": float(psnr.max(axis=1).mean()), "mean_psnr_hole": float(psnr.mean()),
        "first_psnr_hole": float(psnr[:, 0].mean()), "pairwise_difference": float(np.mean(pairs)),
        "single_hole_swd": hole_swd[0], "variants_hole_swd": float(np.mean(hole_swd[1:])),
        "time_ratio": variant_seconds / single_seconds,
    }
    if aligner is not None:
        summary["single_faces_found"] = float(faces_found(aligner, single).mean())
        summary["variants_faces_found"] = float(faces_found(aligner, fills.reshape(-1, *faces.shape[1:])).mean())
    print(f"{count} variants: hole PSNR best {summary['best_psnr_hole']:.2f}, mean {summary['mean_psnr_hole']:.2f}, "
          f"first {summary['first_psnr_hole']:.2f} dB (single fill {summary['single_psnr_hole']:.2f}); pairs differ "
          f"by {summary['pairwise_difference']:.1f} grey levels in the hole; hole patches' SWD x 1e3 "
          f"{summary['variants_hole_swd']:.1f} (single fill {summary['single_hole_swd']:.1f}); faces found "
          f"{summary.get('variants_faces_found', float('nan')):.0%} (single fill "
          f"{summary.get('single_faces_found', float('nan')):.0%}); {summary['time_ratio']:.2f}x the single fill's time",
          flush=True)
    return summary


def paired_differences(after: dict, before: dict) -> dict[str, tuple[float, float, int]]:
    """For each per-face figure two methods share: the mean of after - before over the faces where both are
    finite, its standard error and the number of faces (the same faces and masks, so the noise of which faces
    were drawn cancels)."""
    differences = {}
    for key in ("psnr_hole", "ssim_hole", "detail", "seam", "landmarks"):
        if key not in after["per_face"] or key not in before["per_face"]:
            continue
        d = np.array(after["per_face"][key]) - np.array(before["per_face"][key])
        d = d[np.isfinite(d)]
        if len(d):
            differences[key] = (float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0, len(d))
    return differences


def convergence_curve(
    model: TrainedModel, faces: np.ndarray, mask: Mask | list[Mask], config: CompletionConfig
) -> list[dict[str, float]]:
    """Mean loss and hole PSNR/SSIM of the (unblended) completion at every report, for choosing iterations."""
    curve = []

    def record(iteration: int, loss: np.ndarray, preview: np.ndarray) -> None:
        scores = quality(faces, to_uint8(preview), mask)
        curve.append({"iteration": iteration, "loss": float(loss.mean()), "seconds": time.perf_counter() - start,
                      "psnr_hole": float(scores["psnr_hole"].mean()), "ssim_hole": float(scores["ssim_hole"].mean())})

    start = time.perf_counter()
    FaceFiller(model).complete(faces, mask, config, record)
    return curve


def markdown_table(summary: dict[str, dict[str, float]]) -> str:
    lines = [
        "| method | PSNR hole (dB) | SSIM hole | detail | seam excess | landmarks (IOD) | face found | PSNR image (dB) "
        "| s / face |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['psnr_hole']:.2f} ± {s['psnr_hole_std']:.2f} | {s['ssim_hole']:.3f} | {s['detail']:.2f} | "
            f"{s['seam']:+.2f} | "
            f"{s.get('landmarks', float('nan')):.3f} | {s.get('face_found', float('nan')):.0%} | {s['psnr_full']:.2f} | "
            f"{s['seconds_per_face']:.2f} |"
        )
    return "\n".join(lines)


def eval_masks(name: str, size: int, count: int) -> list[Mask]:
    """count masks of preset name; strokes differ per face (seed = face index), so every run sees the same."""
    return [preset_mask(name, size, seed=i) for i in range(count)]


def preset(name: str, model: TrainedModel, args: argparse.Namespace) -> CompletionConfig:
    """The named completion settings for model ("default": the model's own, core.weights.completion_defaults) with
    the command line's restarts, search steps and fine-tuning steps."""
    config = completion_preset(name, model.completion)
    return replace(config, restarts=args.restarts, iterations=args.iters or config.iterations,
                   tune_steps=config.tune_steps if args.tune_steps is None else args.tune_steps)


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of face photos (aligned on the fly)")
    parser.add_argument("--weights", type=Path, nargs="+", default=[Path("weights")],
                        help="model folders; the project's defaults run with each, on the same faces and masks")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip OpenCV, biharmonic and the seed's settings (to compare weights quickly)")
    parser.add_argument("--masks", nargs="+", choices=[p for p in PRESETS if p != "lowres"],
                        default=["center", "left", "strokes"], help="the masks each face is filled under")
    parser.add_argument("--limit", type=int, default=64, help="evaluate the first N usable faces (sorted by name)")
    parser.add_argument("--out", type=Path, default=Path("reports/eval"), help="folder for report.json and the figures")
    parser.add_argument("--configs", nargs="+", choices=list(COMPLETION_PRESETS), default=["default"],
                        help="named completion settings (core.config.COMPLETION_PRESETS), each run with each model")
    parser.add_argument("--iters", type=int, default=None, help="search steps of the project's settings (default: "
                                                                 "each preset's own)")
    parser.add_argument("--restarts", type=int, default=CompletionConfig().restarts, help="random starts per face")
    parser.add_argument("--tune-steps", type=int, default=None,
                        help="fine-tuning steps on G per face (default: each preset's, on each model's own defaults)")
    parser.add_argument("--seed-iters", type=int, default=SEED_COMPLETION.iterations, help="iterations of the seed baseline")
    parser.add_argument("--no-landmarks", action="store_true", help="skip the landmark check")
    parser.add_argument("--curve", action="store_true",
                        help="instead: hole PSNR against iterations for the seed's and the project's settings")
    parser.add_argument("--variants", type=int, default=1,
                        help="instead: this many fills per face to choose from, against the single fill")
    parser.add_argument("--photo", action="store_true",
                        help="instead: the fills pasted back at each photo's own resolution, with and without the "
                             "photo's own fine detail, and Telea on the photo: hole PSNR, detail ratio and seam there "
                             "(and how many photo pixels a model pixel covers: above 1 a fill is enlarged)")
    args = parser.parse_args(argv)

    try:
        models = load_models(args.weights, same_size=False)
        model = models[args.weights[0]]
        directions = load_directions(args.weights[0], model.config.z_dim)  # for --variants, as the app uses them
    except WeightsError as err:
        parser.exit(2, f"error: {err}\n")
    size = max(each.config.image_size for each in models.values())  # smaller models are compared enlarged
    if (args.curve or args.variants > 1 or args.photo) and model.config.image_size != size:
        parser.exit(2, "error: --curve, --variants and --photo take one model size; compare sizes without them\n")
    single = [name for name, on in (("--curve", args.curve), ("--variants", args.variants > 1),
                                     ("--photo", args.photo)) if on]
    if single and (len(args.configs) > 1 or len(args.weights) > 1):
        parser.exit(2, f"error: {single[0]} measures one model with one setting: give one --weights and one --configs "
                       "and run each on its own\n")
    paths = find_images(args.folder)
    if not paths:
        parser.exit(2, f"error: no images in {args.folder}\n")
    faces: list[np.ndarray] = []
    sources: list = []
    skipped = 0
    with FaceAligner(max_faces=1) as aligner:
        for start in range(0, len(paths), args.limit):
            batch, aligned, errors = load_faces(paths[start : start + args.limit], size, aligner)
            faces += batch
            sources += aligned
            skipped += len(errors)
            if len(faces) >= args.limit:
                break
        faces_array = np.stack(faces[: args.limit])
        settings = {folder: {name: preset(name, each, args) for name in args.configs} for folder, each in models.items()}
        ours = settings[args.weights[0]][args.configs[0]]
        seed = replace(SEED_COMPLETION, iterations=args.seed_iters)
        print(f"{len(faces_array)} faces from {args.folder} ({skipped} photos skipped)")
        args.out.mkdir(parents=True, exist_ok=True)
        if args.curve:
            curves = {}
            masks = eval_masks(args.masks[0], size, len(faces_array))
            for name, config in (("seed settings", seed), ("ours (defaults)", ours)):
                report_every = max(1, config.iterations // 40)
                curves[name] = convergence_curve(model, faces_array, masks, replace(config, report_every=report_every, blend=False))
                for point in curves[name]:
                    print(f"{name:>16} iteration {point['iteration']:5d}: loss {point['loss']:8.1f}, "
                          f"PSNR hole {point['psnr_hole']:.2f} dB, SSIM hole {point['ssim_hole']:.3f}, {point['seconds']:.1f} s")
            (args.out / "curve.json").write_text(json.dumps(curves, indent=2))
            return
        if args.variants > 1:
            results = {}
            for mask_name in args.masks:
                print(f"mask {mask_name}")
                masks = eval_masks(mask_name, size, len(faces_array))
                results[mask_name] = evaluate_variants(model, faces_array, masks, ours, args.variants,
                                                       None if args.no_landmarks else aligner, directions)
            (args.out / "variants.json").write_text(json.dumps(results, indent=2))
            return
        if args.photo:
            in_photos = [i for i, source in enumerate(sources[: len(faces_array)]) if source is not None]
            scales = [sources[i][1].photo_per_model for i in in_photos]
            low, middle, high = np.percentile(scales, [0, 50, 100])
            print(f"{middle:.2f} photo px per model px (median; {low:.2f}-{high:.2f}): above 1 a fill is enlarged into "
                  "the photo, the case the photo's own fine detail is for; below 1 it is shrunk")
            results: dict = {"photo_px_per_model_px": [float(low), float(middle), float(high)]}
            for mask_name in args.masks:
                print(f"mask {mask_name}, at the photos' resolution")
                masks = eval_masks(mask_name, size, len(faces_array))
                results[mask_name] = evaluate_photos(model, faces_array[in_photos], [sources[i] for i in in_photos],
                                                     [masks[i] for i in in_photos], ours)
            (args.out / "photo.json").write_text(json.dumps(results, indent=2))
            return

        methods = {} if args.no_baselines else {
            "OpenCV Telea": opencv_inpaint(cv2.INPAINT_TELEA),
            "OpenCV NS": opencv_inpaint(cv2.INPAINT_NS),
            "biharmonic": biharmonic_inpaint,
            "seed settings": gan_method(model, seed),
        }
        for folder, each in models.items():
            for name, config in settings[folder].items():
                label = ", ".join([str(folder)] * (len(models) > 1) + [name] * (len(args.configs) > 1)) or "defaults"
                methods[f"ours ({label})"] = gan_method(each, config)
        report = {
            "folder": str(args.folder), "faces": len(faces_array), "size": size, "skipped": skipped,
            "weights": [str(folder) for folder in args.weights],
            "ours": {str(folder): {name: asdict(config) for name, config in each.items()}
                     for folder, each in settings.items()},
            "seed": asdict(seed), "results": {},
        }
        markdown = [f"# Completion on {args.folder} ({len(faces_array)} faces)\n"]
        shown = slice(0, min(8, len(faces_array)))
        for mask_name in args.masks:
            print(f"mask {mask_name}")
            masks = eval_masks(mask_name, size, len(faces_array))
            summary, outputs = evaluate(faces_array, masks, methods, None if args.no_landmarks else aligner)
            report["results"][mask_name] = summary
            compared = [name for name in methods if name.startswith("ours (")]
            for name in compared[1:]:
                differences = paired_differences(summary[name], summary[compared[0]])
                report.setdefault("differences", {}).setdefault(mask_name, {})[name] = differences
                print(f"{name} - {compared[0]}: " + ", ".join(f"{key} {mean:+.3f} ± {se:.3f} (SE, {n} faces)"
                                                         for key, (mean, se, n) in differences.items()))
            markdown += [f"## Mask {mask_name}\n", markdown_table(summary), ""]
            rows = [np.stack([masked_preview(f, m) for f, m in zip(faces_array[shown], masks)])]
            rows += [outputs[name][shown] for name in methods] + [faces_array[shown]]
            save_png(args.out / f"grid_{mask_name}.png", image_grid(np.concatenate(rows), columns=shown.stop))
            print(markdown_table(summary))
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    markdown.append("Rows of each grid_MASK.png: input, " + ", ".join(methods) + ", truth.")
    (args.out / "report.md").write_text("\n".join(markdown) + "\n")
    print(f"report: {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
