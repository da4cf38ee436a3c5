"""Attribute directions in z: the unit normal of a linear classifier per attribute (InterFaceGAN, Shen et al. 2020).

Labels come from data the project already has, nothing is downloaded:
- age and gender from UTKFace's file names, on the z of those faces found by projection
  (core.project);
- smile, mouth open, eyes closed, brows raised and head yaw measured by core.attributes on
  G's own samples, where z is known exactly.

A continuous label is split into its top and bottom `share` (the middle is left out, as
InterFaceGAN does), a logistic regression separates the two in z, and its unit normal is the
direction. Moving z along it by +a / -a should raise / lower the attribute; each direction is
checked on faces it was not fitted on, by measuring the edited faces, and shipped only when
its attribute moves the right way on at least `min_moved` of them. An edit can hold other
attributes fixed by projecting their directions out (InterFaceGAN's conditional edit).

CLI: python -m core.directions --weights weights --projections utkface_z.npz
     (fits, measures and writes weights/directions.npz; prints the model card's table)
"""
from __future__ import annotations

import io
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from core.cli import argument_parser
from core.attributes import ATTRIBUTES, FaceMeter, load_age_gender, utkface_labels
from core.images import to_uint8
from core.model import sample_z
from core.weights import MODEL_JSON, TrainedModel, WeightsError, atomic_write, load_model, read_model_json, write_json

DIRECTIONS_FILE = "directions.npz"
SAMPLE_LABELLED = ("smile", "mouth_open", "eyes_closed", "brows_raised", "yaw")  # labelled on G's own samples
LABELS = {  # what each direction is called in the app
    "smile": "Smile", "mouth_open": "Mouth open", "eyes_closed": "Eyes closed", "brows_raised": "Brows raised",
    "yaw": "Turn (yaw)", "age": "Age", "female": "Gender (female)",
}
SLIDER_END = 3.0  # how far an edit may move along a direction whose card gives no shorter range
LIMIT_REASON = ("farther, the edited face is too often someone else or the attribute stops moving the right way "
                "(the model card's slider ranges)")  # why a range is shorter, as the page and core.edit say it
# Where the card keeps the slider ranges (core.edit_report writes them): measured on photos, and on G's random faces
SLIDERS_KEY, GRID_SLIDERS_KEY = "sliders", "grid_sliders"
TRAITS = {  # words for labelled face algebra: (attribute, +1 high / -1 low)
    "smiling": ("smile", 1), "not smiling": ("smile", -1), "woman": ("female", 1), "man": ("female", -1),
    "old": ("age", 1), "young": ("age", -1), "mouth open": ("mouth_open", 1), "mouth closed": ("mouth_open", -1),
    "eyes closed": ("eyes_closed", 1), "brows raised": ("brows_raised", 1),
    "turned left": ("yaw", 1), "turned right": ("yaw", -1),
}


@dataclass(frozen=True)
class DirectionConfig:
    """How directions are fitted and checked."""

    samples: int = 4000  # G's samples measured for the expression and yaw labels
    share: float = 0.3  # top and bottom share of a continuous label taken as the two classes
    held_out: float = 0.2  # share of the labelled z kept back to measure accuracy
    edit_faces: int = 200  # random faces, not fitted on, on which each edit is measured
    edit_amount: float = 2.0  # units of z moved along a direction to measure it
    min_moved: float = 0.8  # a direction ships only if its attribute moves the right way on this share
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 10 or self.edit_faces < 1:
            raise ValueError("samples must be at least 10 and edit_faces at least 1")
        if not 0 < self.share <= 0.5 or not 0 < self.held_out < 1 or not 0 < self.min_moved <= 1:
            raise ValueError("share must be in (0, 0.5], held_out in (0, 1) and min_moved in (0, 1]")
        if not self.edit_amount > 0:
            raise ValueError("edit_amount must be positive")


@dataclass
class Directions:
    """Unit directions in z by attribute name, and a bank of G's samples with their measured attributes."""

    names: list[str]
    vectors: np.ndarray  # (k, z_dim), unit length
    bank_z: np.ndarray  # (n, z_dim) z of G's samples
    bank_scores: np.ndarray  # (n, len(ATTRIBUTES)) their measured attributes (NaN: not measured)
    # By direction, the direction it is most tangled with, which its edit holds unless told otherwise: the model
    # card's conditional edit (report[name]["holding"], add_conditional_edits).
    tangled: dict[str, str] = field(default_factory=dict)
    # By direction, how far an edit may go each way: where, measured on real photos, the face stays the same person
    # and the attribute moves the right way (the card's directions.sliders, core.edit_report); SLIDER_END if absent.
    limits: dict[str, float] = field(default_factory=dict)
    # The same, measured on G's own random faces, as the Explore page's grid edits them (directions.grid_sliders):
    # without a G tuned to hold it, a random face changes person sooner.
    grid_limits: dict[str, float] = field(default_factory=dict)

    def limit(self, name: str, grid: bool = False) -> float:
        """How far an edit along name may go, either way, on a photo or (grid) on one of G's random faces."""
        return (self.grid_limits if grid else self.limits).get(name, SLIDER_END)

    def vector(self, name: str, hold: Sequence[str] = ()) -> np.ndarray:
        """The unit direction of name, with the directions of the held attributes projected out."""
        if name not in self.names:
            raise KeyError(f"No direction for {name!r}; there are {', '.join(self.names)}.")
        direction = self.vectors[self.names.index(name)]
        held = [self.vectors[self.names.index(h)] for h in hold if h != name and h in self.names]
        if held:
            basis, _ = np.linalg.qr(np.stack(held, axis=1))  # orthonormal basis of the held directions
            direction = direction - basis @ (basis.T @ direction)
        return (direction / np.linalg.norm(direction)).astype(np.float32)

    def edit_vectors(self, amounts: Mapping[str, float], hold: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """The unit vector each direction moved by amounts follows, holding hold fixed; hold None: each direction
        holds the one it is most tangled with (self.tangled), () holds nothing."""
        return {name: self.vector(name, [self.tangled[name]] if hold is None and name in self.tangled else hold or ())
                for name, amount in amounts.items() if amount}

    def edit(self, z: np.ndarray, amounts: Mapping[str, float], hold: Sequence[str] | None = None) -> np.ndarray:
        """z (z_dim,) or (n, z_dim) moved by amounts[name] units along each direction (edit_vectors)."""
        edited = np.array(z, np.float32, copy=True)
        for name, vector in self.edit_vectors(amounts, hold).items():
            edited = edited + amounts[name] * vector
        return edited

    def concept(self, traits: Sequence[str], count: int = 3) -> np.ndarray:
        """(count, z_dim): the bank's faces that best show every trait (e.g. ["smiling", "woman"]).

        Each face's score is its worst percentile over the traits, so all of them must hold.
        """
        if not traits:
            raise ValueError("Pick at least one trait.")
        wanted: dict[str, int] = {}
        for trait in traits:
            attribute, sign = TRAITS[trait]
            if wanted.get(attribute, sign) != sign:
                raise ValueError(f"'{trait}' contradicts another trait picked with it.")
            wanted[attribute] = sign
        score = np.full(len(self.bank_z), np.inf)
        for attribute, sign in wanted.items():
            values = self.bank_scores[:, ATTRIBUTES.index(attribute)]
            percentile = np.argsort(np.argsort(np.where(np.isnan(values), np.nanmedian(values), values))) / len(values)
            score = np.minimum(score, np.where(np.isnan(values), -np.inf, percentile if sign > 0 else 1 - percentile))
        return self.bank_z[np.argsort(-score)[:count]].astype(np.float32)

    def traits(self) -> list[str]:
        """The trait words whose attribute the bank has measured."""
        measured = [a for a in ATTRIBUTES if not np.isnan(self.bank_scores[:, ATTRIBUTES.index(a)]).all()]
        return [t for t, (a, _) in TRAITS.items() if a in measured]


def save_directions(folder: str | Path, directions: Directions) -> Path:
    """Write directions to folder/directions.npz atomically (the bank's z as float16: a few hundred KB)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, names=np.array(directions.names), vectors=directions.vectors.astype(np.float32),
                        bank_z=directions.bank_z.astype(np.float16), bank_scores=directions.bank_scores.astype(np.float32),
                        attributes=np.array(ATTRIBUTES))
    path = Path(folder) / DIRECTIONS_FILE
    atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
    return path


def load_directions(folder: str | Path, z_dim: int) -> Directions | None:
    """The directions of a weights folder, None when it has none; WeightsError when they do not fit the model."""
    path = Path(folder) / DIRECTIONS_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            names, vectors = [str(n) for n in data["names"]], data["vectors"].astype(np.float32)
            bank_z, bank_scores = data["bank_z"].astype(np.float32), data["bank_scores"].astype(np.float64)
            attributes = tuple(str(a) for a in data["attributes"])
    except (OSError, ValueError, KeyError) as err:
        raise WeightsError(f"{path} is not a readable directions file: {err}") from err
    if vectors.shape != (len(names), z_dim) or bank_z.shape[1:] != (z_dim,) or attributes != ATTRIBUTES:
        raise WeightsError(f"{path} does not fit this model (z of {z_dim}) or this version's attributes.")
    card = read_model_json(folder).get("card", {}) if (Path(folder) / MODEL_JSON).is_file() else {}
    section = card.get("directions", {})
    report = section.get("report", {})
    tangled = {name: report[name]["holding"]["hold"] for name in names
               if report.get(name, {}).get("holding", {}).get("hold") in names}
    limits = [{name: float(limit) for name, limit in section.get(key, {}).get("limits", {}).items() if name in names}
              for key in (SLIDERS_KEY, GRID_SLIDERS_KEY)]
    return Directions(names, vectors, bank_z, bank_scores, tangled, *limits)


def classes(labels: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """(which samples are used, their 0/1 class): 0/1 labels as they are, else the bottom and top share."""
    labels = np.asarray(labels, np.float64)
    finite = np.isfinite(labels)
    if set(np.unique(labels[finite])) <= {0.0, 1.0}:
        return finite, labels > 0.5
    low, high = np.quantile(labels[finite], [share, 1 - share])
    used = finite & ((labels <= low) | (labels >= high))
    return used, labels >= high


def fit_direction(z: np.ndarray, labels: np.ndarray, config: DirectionConfig = DirectionConfig()) -> tuple[np.ndarray, float]:
    """The unit normal of a logistic regression of the label's classes on z, and its held-out accuracy."""
    from sklearn.linear_model import LogisticRegression

    used, positive = classes(labels, config.share)
    z, positive = np.asarray(z, np.float64)[used], positive[used]
    if positive.all() or not positive.any():
        raise ValueError("Both classes are needed to fit a direction.")
    order = np.random.default_rng(config.seed).permutation(len(z))
    cut = int(len(z) * (1 - config.held_out))
    train, test = order[:cut], order[cut:]
    classifier = LogisticRegression(max_iter=2000).fit(z[train], positive[train])
    accuracy = float(classifier.score(z[test], positive[test]))
    normal = classifier.coef_[0]
    return (normal / np.linalg.norm(normal)).astype(np.float32), accuracy


def measure_samples(model: TrainedModel, meter: FaceMeter, z: np.ndarray, batch: int = 200) -> np.ndarray:
    """The meter's reading of G(z) for each z, (n, len(ATTRIBUTES))."""
    parts = []
    for start in range(0, len(z), batch):
        faces = to_uint8(model.generator(z[start : start + batch], training=False).numpy())
        parts.append(meter.measure(faces))
    return np.concatenate(parts)


def edit_effect(model: TrainedModel, meter: FaceMeter, z: np.ndarray, base: np.ndarray, vector: np.ndarray,
                amount: float, attribute: str | None) -> dict:
    """What moving z by +-amount along vector does to faces whose unedited readings are base.

    up / down: the share of faces whose attribute rises at +amount / falls at -amount (a face
    mediapipe loses counts as not moved); moves: how far each attribute moves on average, in
    standard deviations of that attribute over the unedited faces.
    """
    plus = measure_samples(model, meter, z + amount * vector)
    minus = measure_samples(model, meter, z - amount * vector)
    with warnings.catch_warnings():  # an attribute the meter cannot read (all NaN) moves by NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        moved = np.nanmean(np.abs(np.stack([plus - base, minus - base])), axis=(0, 1)) / np.nanstd(base, axis=0)
    effect = {"moves": {a: round(float(m), 3) for a, m in zip(ATTRIBUTES, moved) if np.isfinite(m)}}
    if attribute is not None:
        effect.update(rises_and_falls(base, plus, minus, attribute))
    return effect


def rises_and_falls(base: np.ndarray, plus: np.ndarray, minus: np.ndarray, attribute: str) -> dict[str, float]:
    """The share of faces whose reading of attribute rises in plus and falls in minus, against base
    (NaN, a face the meter lost, counts as not moved)."""
    column = ATTRIBUTES.index(attribute)
    return {"up": float(np.mean(plus[:, column] > base[:, column])),
            "down": float(np.mean(minus[:, column] < base[:, column]))}


def utkface_z(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Projected UTKFace z (core.project's .npz) and their (age, female) labels from the file names."""
    with np.load(path, allow_pickle=False) as data:
        z, names = data["z"], [str(n) for n in data["names"]]
    labels = [utkface_labels(n) for n in names]
    keep = np.array([label is not None for label in labels])
    if not keep.any():
        raise ValueError(f"No UTKFace file names in {path}.")
    return z[keep], np.array([label for label in labels if label is not None], np.float64)


def add_conditional_edits(model: TrainedModel, meter: FaceMeter, edit_z: np.ndarray, base: np.ndarray,
                          directions: Directions, shipped: Sequence[str], report: dict, config: DirectionConfig) -> None:
    """Add to each shipped direction's report the measured conditional edit that holds the shipped attribute it
    moves most (report[name]["holding"])."""
    for name in shipped:
        others = {a: m for a, m in report[name]["moves"].items() if a != name and a in shipped}
        if others:
            hold = max(others, key=others.get)
            report[name]["holding"] = {"hold": hold, **edit_effect(model, meter, edit_z, base, directions.vector(
                name, [hold]), config.edit_amount, name)}


def fit_all(model: TrainedModel, meter: FaceMeter, projections: Path | None,
            config: DirectionConfig = DirectionConfig()) -> tuple[Directions, dict]:
    """Fit every direction the data allows, measure each edit, keep those that move their attribute."""
    z = sample_z(config.samples, model.config.z_dim, config.seed).numpy()
    scores = measure_samples(model, meter, z)
    sources = {name: (z, scores[:, ATTRIBUTES.index(name)]) for name in SAMPLE_LABELLED}
    if projections is not None:
        projected, labels = utkface_z(projections)
        sources["age"], sources["female"] = (projected, labels[:, 0]), (projected, labels[:, 1])
    fitted, report = {}, {}
    for name, (zs, labels) in sources.items():
        if not np.isfinite(labels).any():  # e.g. age and gender without the age and gender meter
            continue
        fitted[name], accuracy = fit_direction(zs, labels, config)
        report[name] = {"accuracy": round(accuracy, 3), "labelled": int(classes(labels, config.share)[0].sum()),
                        "labels": "UTKFace file names, projected z" if name in ("age", "female") else "G's samples"}
    candidates = Directions(list(fitted), np.stack(list(fitted.values())), z, scores)
    edit_z = sample_z(config.edit_faces, model.config.z_dim, config.seed + 1_000_003).numpy()
    base = measure_samples(model, meter, edit_z)
    measured = [n for n in candidates.names if not np.isnan(base[:, ATTRIBUTES.index(n)]).all()]
    for name in measured:
        report[name].update(edit_effect(model, meter, edit_z, base, candidates.vector(name), config.edit_amount, name))
    shipped = [n for n in measured if min(report[n]["up"], report[n]["down"]) >= config.min_moved]
    for name in report:
        report[name]["shipped"] = name in shipped
    add_conditional_edits(model, meter, edit_z, base, candidates, shipped, report, config)
    rng = np.random.default_rng(config.seed)
    control = rng.normal(size=model.config.z_dim)
    report["random direction (control)"] = edit_effect(model, meter, edit_z, base, control / np.linalg.norm(control),
                                                      config.edit_amount, None)
    keep = [candidates.names.index(n) for n in shipped]
    return Directions(shipped, candidates.vectors[keep], z, scores), report


def remeasure(model: TrainedModel, meter: FaceMeter, directions: Directions, report: Mapping[str, dict],
              config: DirectionConfig = DirectionConfig(), tolerance: float = 0.05
              ) -> tuple[Directions, dict, list[str]]:
    """Directions fitted to an earlier G, measured again on model's G (after it trained on) on the same edit faces
    as fit_all, against their rows of report (the card's). One that falls below its row by more than tolerance, or
    below min_moved, is refitted where its labels come from G's samples (the bank, measured again); age and gender,
    whose labels are projected photos, stay while they still move their attribute on min_moved of the faces and
    are dropped otherwise (core.project and core.directions refit them), as is any the meter cannot read on this
    G. Returns the directions, the new report and the names refitted."""
    bank_scores = measure_samples(model, meter, directions.bank_z)
    edit_z = sample_z(config.edit_faces, model.config.z_dim, config.seed + 1_000_003).numpy()
    base = measure_samples(model, meter, edit_z)
    kept, new_report, refitted = {}, {}, []
    for name in directions.names:
        before = report.get(name, {})
        vector = directions.vector(name)
        effect = edit_effect(model, meter, edit_z, base, vector, config.edit_amount, name)
        floor = max(config.min_moved, min(before.get("up", 0.0), before.get("down", 0.0)) - tolerance)
        entry = {**before, **effect}
        labels = bank_scores[:, ATTRIBUTES.index(name)]
        if min(effect["up"], effect["down"]) < floor and name in SAMPLE_LABELLED and np.isfinite(labels).any():
            vector, accuracy = fit_direction(directions.bank_z, labels, config)
            entry = {**before, **edit_effect(model, meter, edit_z, base, vector, config.edit_amount, name),
                     "accuracy": round(accuracy, 3), "labelled": int(classes(labels, config.share)[0].sum())}
            refitted.append(name)
        entry["shipped"] = min(entry["up"], entry["down"]) >= config.min_moved
        entry.pop("holding", None)
        new_report[name] = entry
        if entry["shipped"]:
            kept[name] = vector
    measured = Directions(list(kept), np.stack(list(kept.values())) if kept else np.zeros((0, model.config.z_dim)),
                          directions.bank_z, bank_scores)
    add_conditional_edits(model, meter, edit_z, base, measured, measured.names, new_report, config)
    return measured, new_report, refitted


def card_table(report: dict, config: DirectionConfig) -> str:
    """The model card's table of directions, in Markdown; a conditional edit gets a row of its own."""
    amount = f"{config.edit_amount:g}"
    lines = [f"| direction | labels (used) | held-out accuracy | rises at +{amount} | falls at -{amount} | "
             "moves itself (SD) | moves most among the others (SD) | shipped |", "| --- " * 8 + "|"]

    def row(name: str, attribute: str | None, r: dict, labels: str, accuracy: str, shipped: str) -> str:
        moves = r["moves"]
        others = sorted(((v, a) for a, v in moves.items() if a != attribute), reverse=True)[:2]
        cells = [f"{r[k]:.1%}" if k in r else "" for k in ("up", "down")]
        itself = f"{moves[attribute]:.2f}" if attribute in moves else ""
        return (f"| {name} | {labels} | {accuracy} | {cells[0]} | {cells[1]} | {itself} | "
                + ", ".join(f"{a} {v:.2f}" for v, a in others) + f" | {shipped} |")

    for name, r in report.items():
        if "accuracy" not in r:  # the control
            lines.append(row(name, None, r, "", "", ""))
            continue
        lines.append(row(name, name, r, f"{r['labels']} ({r['labelled']})", f"{r['accuracy']:.1%}",
                         "yes" if r["shipped"] else "no"))
        if "holding" in r:
            lines.append(row(f"{name}, holding {r['holding']['hold']}", name, r["holding"], "", "", "(conditional)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("Fit, measure and save attribute directions in z.")
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="model folder; directions are written there")
    parser.add_argument("--projections", type=Path, help="core.project's .npz of UTKFace faces (for age and gender)")
    defaults = DirectionConfig()
    parser.add_argument("--samples", type=int, default=defaults.samples,
                        help="G's samples measured for the expression and yaw labels")
    parser.add_argument("--edit-faces", type=int, default=defaults.edit_faces,
                        help="random faces, not fitted on, on which each edit is measured")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the samples and the fits")
    parser.add_argument("--edit-amount", type=float, default=defaults.edit_amount,
                        help="units of z moved along a direction to measure it")
    args = parser.parse_args(argv)
    try:
        config = DirectionConfig(samples=args.samples, edit_faces=args.edit_faces, seed=args.seed,
                                 edit_amount=args.edit_amount)
        model = load_model(args.weights)
        age_gender = load_age_gender(args.weights, model.config.image_size)
    except (ValueError, WeightsError) as err:
        parser.exit(2, f"error: {err}\n")
    if age_gender is None and args.projections:
        print("note: no age and gender meter in the weights folder (python -m core.attributes); their edits go unmeasured")
    start = time.perf_counter()
    with FaceMeter(age_gender) as meter:
        directions, report = fit_all(model, meter, args.projections, config)
    save_directions(args.weights, directions)
    meta = read_model_json(args.weights)
    command = f"python -m core.directions --weights {args.weights}" + (
        f" --projections {args.projections.name}" if args.projections else "")
    meta["card"]["directions"] = {"config": asdict(config), "report": report, "computed": date.today().isoformat(),
                                  "wall_seconds": round(time.perf_counter() - start), "command": command}
    write_json(args.weights / MODEL_JSON, {**meta, "config": meta["config"].to_dict()})
    print(card_table(report, config))
    fitted = sum("accuracy" in r for r in report.values())
    print(f"shipped {len(directions.names)} of {fitted} directions -> {args.weights / DIRECTIONS_FILE}")


if __name__ == "__main__":
    main()
