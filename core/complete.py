"""Fill holes in face photos from the command line: a thin wrapper over core.inpaint, as the Inpaint page is.

python -m core.complete IMG... --weights weights/ --out OUT --mask center
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.align import load_faces
from core.cli import argument_parser
from core.face_filler import FaceFiller
from core.directions import load_directions
from core.config import PRECISIONS, SEED_COMPLETION, STEP_SIZES, CompletionConfig
from core.images import save_png
from core.masks import PRESETS, preset_mask, read_mask
from core.inpaint import MAX_VARIANTS, FaceResult, FillRequest, complete_faces
from core.weights import WeightsError, completion_defaults, load_model, read_model_json

WEIGHTS = Path("weights")


def model_defaults(argv: list[str] | None) -> CompletionConfig:
    """The completion defaults of the model that --weights names (its card may set some), so that the options'
    defaults are that model's; CompletionConfig's when there is no readable model (load_model then says why)."""
    weights = argparse.ArgumentParser(add_help=False)
    weights.add_argument("--weights", type=Path, default=WEIGHTS)
    try:
        return completion_defaults(read_model_json(weights.parse_known_args(argv)[0].weights).get("card", {}))
    except WeightsError:
        return CompletionConfig()


def main(argv: list[str] | None = None) -> None:
    defaults = model_defaults(argv)
    parser = argument_parser("Fill holes in face photos with the DCGAN (Yeh et al.).")
    parser.add_argument("images", nargs="+", type=Path, help="photos, or aligned faces of the model's size")
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="model folder (model.json + .weights.h5); "
                        "the options' defaults below are this model's")
    parser.add_argument("--out", type=Path, default=Path("completions"), help="folder for the results")
    parser.add_argument("--mask", default="center", help=f"{'|'.join(PRESETS)} or a mask PNG (white or painted = fill)")
    parser.add_argument("--iters", type=int, default=defaults.iterations, help="search steps on z")
    parser.add_argument("--lam", type=float, default=defaults.lam, help="weight of the perceptual (adversarial) loss")
    parser.add_argument("--optimizer", choices=tuple(STEP_SIZES), default=defaults.optimizer, help="optimiser on z")
    parser.add_argument("--lr", type=float, default=None,
                        help="step size on z (HMC: leapfrog step); default per optimiser: "
                        + ", ".join(f"{k} {v:g}" for k, v in STEP_SIZES.items()))
    parser.add_argument("--restarts", type=int, default=defaults.restarts,
                        help="random starts per face; the lowest total loss wins")
    parser.add_argument("--init-pool", type=int, default=defaults.init_pool,
                        help="start from the best fit among this many random z (0: one random z)")
    parser.add_argument("--tune-steps", type=int, default=defaults.tune_steps, help="fine-tuning steps on G per face")
    parser.add_argument("--weighted", action="store_true", help="the paper's 7x7 weighted contextual loss")
    parser.add_argument("--blend", action=argparse.BooleanOptionalAction, default=defaults.blend,
                        help="Poisson-blend the fill into the known pixels")
    parser.add_argument("--guidance", type=float, default=defaults.guidance, help="weight of G's gradients in the blend")
    parser.add_argument("--seed-settings", action="store_true", help="the seed's exact method (SEED_COMPLETION)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random starts and of random masks")
    parser.add_argument("--variants", type=int, default=1,
                        help=f"fills to choose from per photo (1 to {MAX_VARIANTS}): the first is the single fill, "
                             "the others other faces that fit the same pixels; written as NAME_v2_... and so on")
    parser.add_argument("--variant-iters", type=int, default=defaults.variant_iterations,
                        help="search steps of the fills after the first (with --variants)")
    parser.add_argument("--diversity", type=float, default=defaults.diversity,
                        help="how strongly the fills after the first are pushed apart in the hole (with --variants)")
    parser.add_argument("--photo-detail", "--grain", dest="photo_detail", action=argparse.BooleanOptionalAction,
                        default=defaults.photo_detail,
                        help="give the hole the photo's own fine detail, copied from where the photo looks like the fill "
                             "(--grain, the old name, still works)")
    parser.add_argument("--precision", choices=("auto", *PRECISIONS), default="auto",
                        help="what G and D compute the search in (auto: bfloat16 where this CPU computes it natively)")
    args = parser.parse_args(argv)
    if not 1 <= args.variants <= MAX_VARIANTS:
        parser.exit(2, f"error: --variants must be from 1 to {MAX_VARIANTS}\n")

    try:
        base = SEED_COMPLETION if args.seed_settings else replace(
            defaults, lam=args.lam, iterations=args.iters, optimizer=args.optimizer, learning_rate=args.lr,
            restarts=args.restarts, init_pool=args.init_pool, tune_steps=args.tune_steps, weighted=args.weighted,
            blend=args.blend, guidance=args.guidance, photo_detail=args.photo_detail, variant_iterations=args.variant_iters,
            diversity=args.diversity,
            precision=args.precision,
        )
        config = replace(base, report_every=max(1, min(defaults.report_every, base.iterations // 20 or 1)), seed=args.seed)
        model = load_model(args.weights)
        directions = load_directions(args.weights, model.config.z_dim)  # the other fills are edits along them
        size = model.config.image_size
        mask = preset_mask(args.mask, size, args.seed) if args.mask in PRESETS else read_mask(Path(args.mask), size)
    except (ValueError, WeightsError) as err:
        parser.exit(2, f"error: {err}\n")

    faces, sources, errors = load_faces(args.images, size)
    for path, error in errors.items():
        print(f"skipped {path}: {error}")
    if not faces:
        parser.exit(1, "error: no usable face among the inputs\n")
    kept = [p for p in args.images if p not in errors]
    print_every = max(config.report_every, config.iterations // 10)

    def report(iteration: int, loss: np.ndarray, preview: np.ndarray) -> None:
        if iteration % print_every == 0 or iteration == config.iterations:
            print(f"iteration {iteration:5d}  mean loss {loss.mean():.2f}", flush=True)

    requests = [FillRequest(face, mask) if source is None else FillRequest(face, mask, *source)
                for face, source in zip(faces, sources)]
    variants = complete_faces(FaceFiller(model, directions), requests, config, args.variants, report)
    args.out.mkdir(parents=True, exist_ok=True)
    for path, results in zip(kept, variants):
        for number, result in enumerate(results, 1):
            save_result(args.out / (path.stem if number == 1 else f"{path.stem}_v{number}"), result)
        print(f"{path}: loss {results[0].loss:.1f} -> {args.out / path.stem}_completed.png"
              + (f" and {len(results) - 1} more fills ({path.stem}_v2_completed.png, ...)" if len(results) > 1 else ""))


def save_result(stem: Path, result: FaceResult) -> None:
    """The masked input, G(z^), the completion, the GIF and the pasted photo, as STEM_*.png/gif."""
    save_png(f"{stem}_masked.png", result.masked)
    save_png(f"{stem}_generated.png", result.generated)
    save_png(f"{stem}_completed.png", result.completed)
    Path(f"{stem}_progress.gif").write_bytes(result.gif(scale=2))
    if result.pasted is not None:
        save_png(f"{stem}_pasted.png", result.pasted)


if __name__ == "__main__":
    main()
