"""Close a training sitting: compare the run's model with the shipped one, publish it only if it wins.

python -m core.sitting runs/NAME --weights weights --photos ../shared/data/lfw-dev --real data/aligned128

A sitting is a training run started from the shipped model (`python -m core.train --init-from weights ...`). A
machine may be gone after three hours, with the run on it, so every sitting ends with this command:

1. the run's last export (RUN/model) and the shipped model draw the same z: faces found (mediapipe) and the SWD of
   their patches to real aligned faces at each scale (core.realism);
2. both fill the same photos under the centre and stroke masks with the shipped model's completion settings
   (core.evaluate): hole PSNR and detail (below the Nyquist frequency, so a checkerboard is not detail), as paired
   differences. Each fills with its own encoder: the run's is the
   shipped one trained on for a few hundred steps on the run's G (core.encoder's warm start), the one it would be
   published with; an encoder fitted to another G starts the search from z that G does not draw well;
3. the run wins only if every condition of PublishRule holds. Then it is published: G and D in float16, that
   encoder, the attribute directions measured again on the new G's samples and refitted where one falls below its
   row in the card (core.directions.remeasure). All of it is built in a staging folder and swapped in whole, so a
   kill never leaves a half-published weights folder;
4. either way the sitting's row is added to the model card's table, and the verdict is printed: "published", or
   "kept the shipped model, because ...".
"""
from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

import keras
import numpy as np

from core.align import FaceAligner, find_images, load_faces
from core.attributes import FaceMeter, load_age_gender
from core.cli import argument_parser
from core.config import TrainConfig
from core.face_filler import FaceFiller
from core.directions import (
    GRID_SLIDERS_KEY, SLIDERS_KEY, DirectionConfig, load_directions, remeasure, save_directions,
)
from core.edit_report import LIMITS_COMMANDS, photo_edit_effects
from core.edit import PIVOT_TUNING, project_face
from core.encoder import train_encoder, write_encoder
from core.evaluate import eval_masks, evaluate, gan_method, paired_differences
from core.realism import faces_found, generate, real_faces, swd
from core.weights import (MODEL_JSON, TrainedModel, WeightsError, atomic_write, load_model, publish,
                          read_model_json, write_json)

MODEL_CARD = "MODEL_CARD.md"
# The model card's table of sittings ends at this line; close() adds each sitting's row above it.
TABLE_END = "<!-- core.sitting adds a row above this line -->"
REPORT = "sitting.json"


@dataclass(frozen=True)
class SittingConfig:
    """What closing a sitting measures, and how long publishing trains what depends on G."""

    samples: int = 500  # G's samples (the same z for both models) for faces found and SWD
    faces: int = 64  # photos filled under each mask
    masks: tuple[str, ...] = ("center", "strokes")
    encoder_steps: int = 400  # the encoder's warm start on the run's G's samples, before it fills
    encoder_batch_size: int = 64
    edit_photos: int = 16  # of the photos, those on which the directions are measured as the app edits
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 10 or self.faces < 2 or self.encoder_steps < 1:
            raise ValueError("samples must be at least 10, faces at least 2 and encoder_steps at least 1")
        if not self.masks:
            raise ValueError("at least one mask is needed")


@dataclass(frozen=True)
class PublishRule:
    """When a sitting's model replaces the shipped one: all of these must hold (figures as Comparison holds them)."""

    min_psnr_gain: float = 0.0  # dB, mean over the photos of candidate - shipped, on every mask
    max_detail_loss: float = 0.02  # detail ratio, the same paired mean, on every mask
    max_faces_found_loss: float = 0.005  # share of samples in which mediapipe finds a face
    # SWD x 1e3, candidate - shipped: at the finest scale it must be below this (fall), its mean over the scales
    # at most this (not rise)
    max_swd_change: float = 0.0


@dataclass
class Figures:
    """One model's figures in a comparison."""

    steps: int
    faces_found: float
    swd: dict[int, float]  # x 1e3, by scale in px, finest first
    psnr_hole: dict[str, float] = field(default_factory=dict)  # by mask
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def swd_mean(self) -> float:
        return float(np.mean(list(self.swd.values())))


@dataclass
class Comparison:
    """The candidate against the shipped model on the same z, photos and masks."""

    candidate: Figures
    shipped: Figures
    differences: dict[str, dict[str, tuple[float, float, int]]]  # mask -> figure -> (mean, SE, photos)
    photos: int

    def losses(self, rule: PublishRule) -> list[str]:
        """Why the candidate does not win under rule; empty when it does."""
        c, s = self.candidate, self.shipped
        finest = next(iter(c.swd))
        reasons = []
        if not c.swd[finest] - s.swd[finest] < rule.max_swd_change:
            reasons.append(f"SWD at {finest} px is {c.swd[finest]:.1f}, not below the shipped {s.swd[finest]:.1f}")
        if c.swd_mean - s.swd_mean > rule.max_swd_change:
            reasons.append(f"mean SWD is {c.swd_mean:.1f} against the shipped {s.swd_mean:.1f}")
        if c.faces_found < s.faces_found - rule.max_faces_found_loss:
            reasons.append(f"faces are found in {c.faces_found:.1%} of samples against the shipped {s.faces_found:.1%}")
        for mask, figures in self.differences.items():
            gain, se, _ = figures["psnr_hole"]
            if gain < rule.min_psnr_gain:
                reasons.append(f"hole PSNR on {mask} is {gain:+.2f} ± {se:.2f} dB against the shipped model's "
                               f"(at least {rule.min_psnr_gain:+.2f} needed)")
            change, se, _ = figures["detail"]
            if change < -rule.max_detail_loss:
                reasons.append(f"detail on {mask} is {change:+.3f} ± {se:.3f} against the shipped model's")
        return reasons


def measure_samples(model: TrainedModel, real: np.ndarray, aligner: FaceAligner, config: SittingConfig) -> tuple:
    """Faces found in, and SWD to the real faces of, config.samples of G's samples (seeded z)."""
    images = generate(model, config.samples, config.seed)
    return float(faces_found(aligner, images).mean()), swd(real, images, seed=config.seed)


def compare(candidate: TrainedModel, shipped: TrainedModel, photos: np.ndarray, real: np.ndarray,
            config: SittingConfig = SittingConfig()) -> Comparison:
    """Both models on the same z, photos and masks; both fill with the shipped model's settings, each with its own
    encoder (the candidate's from with_own_encoder)."""
    settings = shipped.completion
    figures = {}
    with FaceAligner(max_faces=1) as aligner:
        for name, model in (("candidate", candidate), ("shipped", shipped)):
            found, distances = measure_samples(model, real, aligner, config)
            figures[name] = Figures(int(model.card.get("steps", 0)), found, distances)
            print(f"{name}: faces found in {found:.1%} of {config.samples} samples; SWD x 1e3 "
                  + ", ".join(f"{side} px {value:.1f}" for side, value in distances.items()), flush=True)
    methods = {name: gan_method(model, settings) for name, model in (("candidate", candidate), ("shipped", shipped))}
    differences = {}
    for mask_name in config.masks:
        print(f"mask {mask_name}, {len(photos)} photos", flush=True)
        summary, _ = evaluate(photos, eval_masks(mask_name, photos.shape[1], len(photos)), methods)
        for name in methods:
            figures[name].psnr_hole[mask_name] = summary[name]["psnr_hole"]
            figures[name].detail[mask_name] = summary[name]["detail"]
        differences[mask_name] = paired_differences(summary["candidate"], summary["shipped"])
    return Comparison(figures["candidate"], figures["shipped"], differences, len(photos))


def with_own_encoder(candidate: TrainedModel, shipped: TrainedModel,
                     config: SittingConfig) -> tuple[TrainedModel, float]:
    """The candidate with the encoder it would be published with: the shipped encoder trained on for
    config.encoder_steps batches of the candidate's G (core.encoder's warm start); the seconds it took. The candidate
    as it is when the shipped model has no encoder."""
    if shipped.encoder is None:
        return candidate, 0.0
    start = time.perf_counter()
    encoder = train_encoder(replace(candidate, encoder=shipped.encoder), config.encoder_steps,
                            config.encoder_batch_size, warm_start=True, verbose=0)
    return replace(candidate, encoder=encoder), time.perf_counter() - start


def publish_sitting(run_model: Path, weights: Path, photos: np.ndarray, config: SittingConfig,
                    directions_config: DirectionConfig | None = None, encoder: keras.Model | None = None,
                    encoder_seconds: float = 0.0) -> dict:
    """Publish run_model into weights with everything that depends on G refitted; returns what was refitted.
    encoder: the one with_own_encoder fitted to run_model's G (in encoder_seconds), written in place of the
    shipped one. The directions are measured on G's samples (and refitted where they fall, core.directions.remeasure)
    and on the first config.edit_photos photos, edited as the app does.

    The new folder is built beside weights and swapped in whole: weights is the old or the new model, never a mix."""
    staging, old = weights.with_name(f".{weights.name}.new"), weights.with_name(f".{weights.name}.old")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(weights, staging)
    publish(run_model, staging)
    done: dict = {}
    if encoder is not None:
        write_encoder(staging, encoder, config.encoder_steps, config.encoder_batch_size, encoder_seconds, warm_start=True,
                      command=f"python -m core.sitting (core.encoder --steps {config.encoder_steps} --warm-start)")
        done["encoder"] = f"{config.encoder_steps} warm-start steps"
    model = load_model(staging)
    meta = read_model_json(staging)
    card = meta["card"]
    directions = load_directions(staging, model.config.z_dim)
    if directions is not None:
        section = card.get("directions", {})
        d_config = directions_config or DirectionConfig(**section.get("config", {}))
        start = time.perf_counter()
        with FaceMeter(load_age_gender(staging, model.config.image_size)) as meter:
            directions, report, refitted = remeasure(model, meter, directions, section.get("report", {}), d_config)
            filler = FaceFiller(model)
            projected = [project_face(filler, face, tuning=PIVOT_TUNING) for face in photos[: config.edit_photos]]
            on_photos = photo_edit_effects(filler, meter, directions, projected, d_config.edit_amount)
        save_directions(staging, directions)
        card["directions"] = {**section, "config": asdict(d_config), "report": report, "photos": on_photos,
                              "computed": date.today().isoformat(), "wall_seconds": round(time.perf_counter() - start),
                              "remeasured_by": "python -m core.sitting", "refitted": refitted}
        done["directions"] = f"refitted {', '.join(refitted)}" if refitted else "all held; the bank measured again"
        if SLIDERS_KEY in section or GRID_SLIDERS_KEY in section:  # needs dlib (a dev dependency), minutes an amount
            done["slider ranges"] = f"measured on the old G; measure them again: {' and '.join(LIMITS_COMMANDS)}"
    write_json(staging / MODEL_JSON, {**meta, "config": model.config.to_dict(), "card": card})
    shutil.rmtree(old, ignore_errors=True)
    weights.rename(old)
    staging.rename(weights)
    shutil.rmtree(old)
    return done


def recipe(run_dir: Path) -> str:
    """What the run changed from core.train's defaults: from its run.json (core.train), else from its model's card
    (core.train_jax writes no run.json), with the machine it names ('' with neither); and G's output_blur."""
    path, machine, blur = run_dir / "run.json", "", 0.0
    defaults = asdict(TrainConfig())
    if path.is_file():
        run = json.loads(path.read_text())
        train, blur = run["train"], run["model"].get("output_blur", 0.0)
    elif (run_dir / "model" / MODEL_JSON).is_file():
        meta = read_model_json(run_dir / "model")
        card, blur = meta.get("card", {}), meta["config"].output_blur
        train, machine = {key: card[key] for key in defaults if key in card}, card.get("machine", "")
    else:
        return ""
    skip = {"steps", "log_every", "sample_every", "checkpoint_every", "d_learning_rate"}
    changed = [f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}" for key, value in train.items()
               if key not in skip and value != defaults.get(key)] + ([f"output_blur {blur:g}"] if blur else [])
    return ", ".join(changed + ([f"on {machine.split(',')[0]}"] if machine else []))


def card_row(run_dir: Path, comparison: Comparison, verdict: str) -> str:
    """The sitting's row of the model card's table."""
    c, s = comparison.candidate, comparison.shipped
    masks = list(comparison.differences)
    psnr = " / ".join(f"{c.psnr_hole[m]:.2f} ({comparison.differences[m]['psnr_hole'][0]:+.2f})" for m in masks)
    detail = " / ".join(f"{c.detail[m]:.2f}" for m in masks)
    changes = recipe(run_dir)
    return (f"| {date.today().isoformat()} | {run_dir.name}{f' ({changes})' if changes else ''} | "
            f"{c.steps:,} (+{c.steps - s.steps:,}) | "
            + " / ".join(f"{value:.1f}" for value in c.swd.values())
            + f" ({' / '.join(f'{value:.1f}' for value in s.swd.values())}) | {c.faces_found:.1%} ({s.faces_found:.1%}) | "
            f"{psnr} | {detail} | {verdict} |")


@dataclass(frozen=True)
class CardRow:
    """One sitting as its row of the model card's table says it (card_row writes it, card_rows reads it back)."""

    date: str
    run: str  # the run folder's name and its recipe
    steps: int  # the model's steps so far
    added: int  # of them, this sitting's
    swd: tuple[float, ...]  # x 1e3 at each scale, finest first
    shipped_swd: tuple[float, ...]  # the shipped model's at the time
    faces_found: float  # share of samples
    psnr_hole: tuple[float, ...]  # dB, by mask (centre, strokes)
    psnr_change: tuple[float, ...]  # paired mean against the shipped model, dB, by mask
    detail: tuple[float, ...]
    verdict: str

    @property
    def published(self) -> bool:
        return self.verdict.lstrip("*").startswith("published")


def card_rows(card: str) -> list[CardRow]:
    """Every sitting's row in a model card's text, in the table's order (an empty list without the table)."""
    if TABLE_END not in card:
        return []
    lines = card[: card.index(TABLE_END)].rstrip().splitlines()
    rows = []
    for line in reversed(lines):
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 8 or not re.fullmatch(r"\d{4}-\d\d-\d\d", cells[0]):
            break
        date_, run, steps, swd, faces, psnr, detail, verdict = cells
        total, added = (int(n.replace(",", "")) for n in re.fullmatch(r"([\d,]+) \(\+([\d,]+)\)", steps).groups())
        own, shipped = re.fullmatch(r"(.+) \((.+)\)", swd).groups()
        holes = [re.fullmatch(r"([\d.]+) \(([+-][\d.]+)\)", part).groups() for part in psnr.split(" / ")]
        rows.append(CardRow(
            date_, run, total, added, _numbers(own), _numbers(shipped), float(faces.split("%")[0]) / 100,
            tuple(float(hole) for hole, _ in holes), tuple(float(change) for _, change in holes), _numbers(detail),
            verdict))
    return rows[::-1]


def _numbers(cell: str) -> tuple[float, ...]:
    return tuple(float(part) for part in cell.split(" / "))


def add_card_row(weights: Path, row: str) -> bool:
    """Add row above the model card's TABLE_END line; False when the card has no such table."""
    path = weights / MODEL_CARD
    if not path.is_file() or TABLE_END not in (text := path.read_text()):
        return False
    atomic_write(path, lambda tmp: tmp.write_text(text.replace(TABLE_END, f"{row}\n{TABLE_END}", 1)))
    return True


def close(run_dir: Path, weights: Path, photos_dir: Path, real_dir: Path, config: SittingConfig = SittingConfig(),
          rule: PublishRule = PublishRule(), dry_run: bool = False) -> tuple[bool, list[str]]:
    """Close the sitting in run_dir (see the module's docstring); returns (published, reasons it was not)."""
    run_dir, weights = Path(run_dir), Path(weights)
    candidate, shipped = load_model(run_dir / "model"), load_model(weights)
    if not candidate.config.same_weights(shipped.config):
        raise WeightsError(f"{run_dir / 'model'} holds {candidate.config}, {weights} {shipped.config}: a sitting "
                           f"trains the shipped model on (--init-from {weights}).")
    size = shipped.config.image_size
    real = real_faces(real_dir, config.samples, size, config.seed)
    faces, _, _ = load_faces(find_images(photos_dir)[: 2 * config.faces], size)
    if len(faces) < 2:
        raise ValueError(f"{photos_dir} has {len(faces)} usable face photos; at least 2 are needed")
    photos = np.stack(faces[: config.faces])
    candidate, encoder_seconds = with_own_encoder(candidate, shipped, config)
    comparison = compare(candidate, shipped, photos, real, config)
    reasons = comparison.losses(rule)
    published = not reasons and not dry_run
    refitted = publish_sitting(run_dir / "model", weights, photos, config, encoder=candidate.encoder,
                               encoder_seconds=encoder_seconds) if published else {}
    report = {"run": str(run_dir), "weights": str(weights), "config": asdict(config), "rule": asdict(rule),
              "candidate": asdict(comparison.candidate), "shipped": asdict(comparison.shipped),
              "differences": comparison.differences, "photos": comparison.photos, "published": published,
              "reasons": reasons, "refitted": refitted}
    write_json(run_dir / REPORT, report)
    if not dry_run:
        add_card_row(weights, card_row(run_dir, comparison, "published" if published else "kept"))
    return published, reasons


def main(argv: list[str] | None = None) -> None:
    defaults, rule = SittingConfig(), PublishRule()
    parser = argument_parser("Close a training sitting: compare its model with the shipped one, publish it if it wins.")
    parser.add_argument("run", type=Path, help="the sitting's run folder (core.train --out), whose model/ is compared")
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="the shipped model folder")
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/lfw-dev"),
                        help="face photos the models fill (aligned on the fly; never trained on)")
    parser.add_argument("--real", type=Path, required=True,
                        help="aligned real faces at the model's size (core.align ... --size 128), for SWD")
    parser.add_argument("--samples", type=int, default=defaults.samples, help="G's samples for faces found and SWD")
    parser.add_argument("--faces", type=int, default=defaults.faces, help="photos filled under each mask")
    parser.add_argument("--encoder-steps", type=int, default=defaults.encoder_steps,
                        help="the encoder's warm-start steps on the run's G (it fills with it, and ships with it)")
    parser.add_argument("--min-psnr-gain", type=float, default=rule.min_psnr_gain,
                        help="dB the run's fills must gain on every mask, on average over the photos")
    parser.add_argument("--dry-run", action="store_true", help="compare and say what would happen; change nothing")
    args = parser.parse_args(argv)
    try:
        config = SittingConfig(samples=args.samples, faces=args.faces, encoder_steps=args.encoder_steps)
        published, reasons = close(args.run, args.weights, args.photos, args.real, config,
                                   replace(rule, min_psnr_gain=args.min_psnr_gain), args.dry_run)
    except (WeightsError, ValueError, FileNotFoundError) as err:
        parser.exit(2, f"error: {err}\n")
    if published:
        print(f"published {args.run / 'model'} into {args.weights}; report: {args.run / REPORT}")
    elif not reasons:
        print(f"the run wins; a dry run publishes nothing (report: {args.run / REPORT})")
    else:
        print(f"kept the shipped model, because {'; '.join(reasons)} (report: {args.run / REPORT})")


if __name__ == "__main__":
    main()
