"""Train the DCGAN on a folder of aligned faces, resumably.

CLI: python -m core.train --data DIR --out RUN_DIR [--steps N] [--resume] [--strategy mirrored|multiworker]

A run folder holds:
  run.json                   model and training config, data summary
  checkpoint.weights.h5      G, D, both optimizers, and the step and wall time as HDF5
                             attributes: one file renamed into place, so always consistent
  metrics.csv                step, d_loss_real, d_loss_fake, g_loss, seconds
  samples/step_NNNNNN.png    samples from a fixed z
  tensorboard/               TensorBoard scalars
  model/                     the latest G and D in the app's weights format
"""
from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

from core.cli import argument_parser
from core.config import PRECISIONS, ModelConfig, TrainConfig
from core.data import face_dataset, list_images, with_latents
from core.distribute import STRATEGIES, is_chief, make_strategy
from core.images import image_grid, save_png, to_uint8
from core.model import DCGAN, copy_layers, sample_z
from core.weights import WeightsError, atomic_write, load_model, read_model_json, save_model, write_json

RUN_JSON = "run.json"
CHECKPOINT = "checkpoint.weights.h5"
METRICS = "metrics.csv"
METRIC_FIELDS = ("step", "d_loss_real", "d_loss_fake", "g_loss", "seconds")
SAMPLE_Z = "sample_z.npy"


class RunExistsError(RuntimeError):
    """The run folder already has a checkpoint and --resume was not given."""


def read_checkpoint_state(run_dir: Path) -> dict:
    """{'step': ..., 'seconds': ...} of the last checkpoint, or step 0 if there is none."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        return {"step": 0, "seconds": 0.0}
    with h5py.File(path, "r") as f:
        return {"step": int(f.attrs["step"]), "seconds": float(f.attrs["seconds"])}


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """The run's metrics rows; a row cut short by a kill mid-write is skipped."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                rows.append({k: float(row[k]) for k in METRIC_FIELDS})
            except (TypeError, ValueError, KeyError):
                continue
    return rows


def _truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop rows logged after the checkpoint we resume from, so the log matches the steps."""
    rows = [row for row in read_metrics(run_dir) if row["step"] <= step]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, METRIC_FIELDS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "step": int(row["step"])})

    atomic_write(Path(run_dir) / METRICS, write)


class MovingAverage(keras.callbacks.Callback):
    """After every step, one step of the moving average of G's weights (DCGAN.update_ema)."""

    def __init__(self, gan: DCGAN, warm_up: bool = True):
        super().__init__()
        self.gan = gan
        self.warm_up = warm_up

    def on_train_batch_end(self, batch, logs=None):
        self.gan.update_ema(int(self.gan.d_optimizer.iterations.numpy()), self.warm_up)


class FadeIn(keras.callbacks.Callback):
    """Before every step, the new blocks' fade-in moves on (DCGAN.set_fade)."""

    def __init__(self, gan: DCGAN):
        super().__init__()
        self.gan = gan

    def on_train_batch_begin(self, batch, logs=None):
        self.gan.set_fade(int(self.gan.d_optimizer.iterations.numpy()))


class RunLogger(keras.callbacks.Callback):
    """After every epoch (log_every steps, or fewer to land on the last step): a metrics row;
    samples and a checkpoint whenever a multiple of their interval was passed, and at the last step."""

    def __init__(self, run_dir: Path, gan: DCGAN, start_step: int, start_seconds: float, card: dict):
        super().__init__()
        self.run_dir, self.gan, self.card = run_dir, gan, card
        self.t = gan.train_config
        self.last_step = start_step
        self.start_seconds = start_seconds
        self.sample_z = np.load(run_dir / SAMPLE_Z)
        (run_dir / "samples").mkdir(exist_ok=True)

    def on_train_begin(self, logs=None):
        self.clock = time.perf_counter()

    def seconds(self) -> float:
        return self.start_seconds + time.perf_counter() - self.clock

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.gan.d_optimizer.iterations.numpy())  # the true count, whatever the epoch length
        with open(self.run_dir / METRICS, "a", newline="") as f:
            row = {k: float(logs[k]) for k in METRIC_FIELDS[1:4]}
            csv.DictWriter(f, METRIC_FIELDS).writerow({"step": step, **row, "seconds": round(self.seconds(), 2)})

        def passed(every: int) -> bool:
            return step // every > self.last_step // every or step >= self.t.steps

        if passed(self.t.sample_every):
            self.save_samples(step)
        if passed(self.t.checkpoint_every):
            self.save_checkpoint(step)
        self.last_step = step

    def save_samples(self, step: int) -> None:
        images = to_uint8(self.gan.exported_generator(self.sample_z, training=False))
        path = self.run_dir / "samples" / f"step_{step:06d}.png"
        atomic_write(path, lambda tmp: save_png(tmp, image_grid(images)))

    def save_checkpoint(self, step: int) -> None:
        seconds = self.seconds()

        def write(tmp: Path) -> None:
            self.gan.save_weights(tmp)
            with h5py.File(tmp, "a") as f:
                f.attrs["step"], f.attrs["seconds"] = step, seconds

        atomic_write(self.run_dir / CHECKPOINT, write)
        # The app-format export is swapped in as a whole folder, so G and D always match.
        card = {**self.card, "steps": self.card.get("previous_steps", 0) + step, "wall_seconds": round(seconds, 1)}
        staging, export, old = (self.run_dir / name for name in (".model.tmp", "model", ".model.old"))
        save_model(staging, self.gan.config, *self.gan.exported_networks(), card)
        if export.exists():
            export.rename(old)
        staging.rename(export)
        shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(gan: DCGAN, path: Path) -> None:
    """Load a run's checkpoint into gan; one written before G had a moving average starts the average at G."""
    with h5py.File(path, "r") as f:
        has_average = "ema_generator" in f
    if has_average:
        gan.load_weights(path)
        return
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / CHECKPOINT
        shutil.copy(path, copy)
        with h5py.File(copy, "a") as f:
            f.copy(f["generator"], "ema_generator")
        gan.load_weights(copy)


def _configs(run_dir: Path, step: int, resume: bool, model: ModelConfig, train: TrainConfig):
    """The run's own configs when resuming (only the target steps may change), else the given ones."""
    if step and not resume:
        raise RunExistsError(f"{run_dir} already holds a checkpoint at step {step}; pass --resume.")
    if step:
        saved = json.loads((run_dir / RUN_JSON).read_text())
        model = ModelConfig.from_dict(saved["model"])
        train = replace(TrainConfig(**saved["train"]), steps=train.steps)
    return model, train


def _start_run(run_dir: Path, model: ModelConfig, train: TrainConfig, card: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / RUN_JSON, {"model": model.to_dict(), "train": asdict(train), "card": card})
    z = sample_z(64, model.z_dim, train.seed).numpy()
    atomic_write(run_dir / SAMPLE_Z, lambda tmp: np.save(tmp, z))


def _clean_after_kill(run_dir: Path, step: int) -> None:
    """Drop what a killed process may have left: metrics past the checkpoint, temporary files."""
    _truncate_metrics(run_dir, step)
    for stale in list(run_dir.rglob(".*")):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)


def train(
    data_dir: str | Path,
    run_dir: str | Path,
    model_config: ModelConfig = ModelConfig(),
    train_config: TrainConfig = TrainConfig(),
    resume: bool = False,
    verbose: int | str = "auto",
    init_from: str | Path | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> DCGAN:
    """Train (or resume) a run; returns the trained model. Safe to kill at any point.

    init_from: a model folder (e.g. the shipped weights/) whose G and D start a new run,
    so training can continue on a machine that only has the published weights.
    strategy: a tf.distribute strategy (core.distribute); train_config.batch_size is the global
    batch, split across its replicas. Only the chief writes the run folder; a checkpoint resumes
    on any number of replicas.
    """
    run_dir = Path(run_dir)
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    state = read_checkpoint_state(run_dir)
    model_config, t = _configs(run_dir, state["step"], resume, model_config, train_config)
    if t.fade_steps and not (state["step"] or init_from):
        raise ValueError("--fade-steps fades in the blocks of a grown model: --init-from a model of half the size.")
    if t.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"batch_size {t.batch_size} does not split evenly over {strategy.num_replicas_in_sync} replicas.")
    paths, skipped = list_images(data_dir)
    print(f"{len(paths)} images ({skipped} unreadable, skipped) in {data_dir}; run folder {run_dir}; "
          f"{strategy.num_replicas_in_sync} replica(s)")

    with strategy.scope():
        gan = DCGAN(model_config, t)
        gan.compile()
        gan.build_optimizers()
    if state["step"]:
        card = json.loads((run_dir / RUN_JSON).read_text())["card"]
        if chief:
            _clean_after_kill(run_dir, state["step"])
        load_checkpoint(gan, run_dir / CHECKPOINT)
        if int(gan.d_optimizer.iterations.numpy()) != state["step"]:
            raise RuntimeError(f"{run_dir / CHECKPOINT} is inconsistent: its step and optimiser disagree.")
        print(f"resumed from step {state['step']}")
    else:
        card = {
            "data": str(data_dir),
            "images": len(paths),
            "skipped_images": skipped,
            "batch_size": t.batch_size,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip() + f", {os.cpu_count()} cores",
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "ema_decay": t.ema_decay,  # > 0: the exported G is an average (a run --init-from it need not warm up)
        }
        if init_from:
            card.update(initialise_from(gan, init_from))
        if chief:
            _start_run(run_dir, model_config, t, card)
            _clean_after_kill(run_dir, 0)
    card["replicas"] = strategy.num_replicas_in_sync

    seed = t.seed + state["step"]
    dataset = with_latents(face_dataset(paths, model_config.image_size, t.batch_size, seed), model_config.z_dim, seed)
    options = tf.data.Options()  # each worker reads every file and keeps its own share of each batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)
    callbacks = [MovingAverage(gan, card.get("ema_warm_up", True))] if t.ema_decay else []
    if t.fade_steps:
        callbacks.append(FadeIn(gan))
    if chief:
        callbacks += [RunLogger(run_dir, gan, state["step"], state["seconds"], card),
                      keras.callbacks.TensorBoard(run_dir / "tensorboard", write_graph=False)]
    epoch = state["step"] // t.log_every
    for steps_per_epoch, epochs in fit_segments(state["step"], t.steps, t.log_every):
        gan.fit(dataset, epochs=epoch + epochs, initial_epoch=epoch, steps_per_epoch=steps_per_epoch,
                callbacks=callbacks, shuffle=False, verbose=verbose)
        epoch += epochs
    return gan


def initialise_from(gan: DCGAN, folder: str | Path) -> dict:
    """Start G and D from the model in folder: one of the same config gives every weight; one of half the
    size grows into gan's (ModelConfig.grown): its layers are kept, the new ones start fresh. The card's lines."""
    previous = load_model(folder)
    same = previous.config.same_weights(gan.config)
    if gan.train_config.fade_steps and same:
        raise ValueError("--fade-steps fades in the blocks of a grown model: --init-from a model of half the size.")
    if not same and not previous.config.grown().same_weights(gan.config):
        raise WeightsError(f"{folder} holds {previous.config}: a run from it is {previous.config} or, grown, "
                           f"{previous.config.grown()}; this run is {gan.config}.")
    new = copy_layers(previous.generator, gan.generator) + copy_layers(previous.discriminator, gan.discriminator)
    gan.reset_ema()
    card = {"initialised_from": str(folder), "previous_steps": int(previous.card.get("steps", 0))}
    # A G that is already a moving average (its card says so) is averaged on at the full decay from the first step;
    # the warm-up would export the raw G's fine noise for thousands of steps. A grown G's new blocks start untrained.
    card["ema_warm_up"] = not same or not previous.card.get("ema_decay")
    if not same:
        card["grown_from_size"] = previous.config.image_size
        print(f"grown from the {previous.config.image_size} px model in {folder}; new layers: {', '.join(new)}")
    print(f"initialised from {folder} ({card['previous_steps']} steps)")
    return card


def fit_segments(done: int, steps: int, every: int) -> list[tuple[int, int]]:
    """(steps per epoch, epochs) of the fit() calls that train from step done to exactly steps,
    ending epochs on multiples of every: a short epoch up to the first multiple, whole ones, a short last one."""
    segments = []
    first = min(-done % every, steps - done)
    if first > 0:
        segments.append((first, 1))
        done += first
    if (steps - done) // every:
        segments.append((every, (steps - done) // every))
    if (steps - done) % every:
        segments.append(((steps - done) % every, 1))
    return segments


def main(argv: list[str] | None = None) -> None:
    defaults = TrainConfig()
    parser = argument_parser("Train the DCGAN on aligned faces (see core.align).")
    parser.add_argument("--data", required=True, type=Path, help="folder of aligned face images")
    parser.add_argument("--out", required=True, type=Path, help="run folder (checkpoints, samples, logs)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    parser.add_argument("--steps", type=int, default=defaults.steps, help="train until this step")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="faces per step (all replicas)")
    parser.add_argument("--log-every", type=int, default=defaults.log_every, help="steps between metrics rows")
    parser.add_argument("--sample-every", type=int, default=defaults.sample_every, help="steps between sample grids")
    parser.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every,
                        help="steps between checkpoints (and exports to RUN/model)")
    parser.add_argument("--image-size", type=int, default=ModelConfig.image_size, help="side of G's faces (a power of two)")
    parser.add_argument("--z-dim", type=int, default=ModelConfig.z_dim, help="length of z")
    parser.add_argument("--gf", type=int, help="generator width: filters of its last hidden layer (default: "
                        f"--init-from's, else {ModelConfig.gf})")
    parser.add_argument("--df", type=int, help="discriminator width: filters of its first layer (default: "
                        f"--init-from's, else {ModelConfig.df})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the data order and of z")
    parser.add_argument("--ema-decay", type=float, default=defaults.ema_decay,
                        help="the exported G averages G's weights with this decay (0: export the raw G)")
    parser.add_argument("--init-from", type=Path,
                        help="start G and D from this model folder (e.g. weights); with --image-size twice its "
                             "size, grow it: its layers are kept, one block is added to G and D (widths follow)")
    parser.add_argument("--fade-steps", type=int, default=defaults.fade_steps,
                        help="a grown run fades its new blocks in over this many steps (default: %(default)s, "
                             "no fade)")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate,
                        help="Adam's step size for G (and D, unless --d-learning-rate)")
    parser.add_argument("--d-learning-rate", type=float, help="Adam's step size for D (default: --learning-rate)")
    parser.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing,
                        help="D's target for real faces is 1 minus this (one-sided; 0: none)")
    parser.add_argument("--output-blur", type=float,
                        help="low-pass G's faces this far, 0-1 (ModelConfig.output_blur; default: --init-from's, else 0)")
    parser.add_argument("--spectral-norm", action="store_true", help="spectrally normalise D's layers")
    parser.add_argument("--r1-gamma", type=float, default=defaults.r1_gamma,
                        help="weight of the R1 penalty on D's gradient at real faces (0: none)")
    parser.add_argument("--precision", choices=PRECISIONS, default=defaults.precision,
                        help="mixed_bfloat16: compute in bfloat16, weights in float32")
    parser.add_argument("--strategy", choices=STRATEGIES, default="default",
                        help="default: this machine's CPU or one GPU; mirrored: every GPU of this machine; multiworker: several machines (TF_CONFIG)")
    parser.add_argument("--cpu-replicas", type=int, default=1,
                        help="split the CPU into this many logical devices (to run mirrored without GPUs)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1:
        parser.error("--steps and --batch-size must be positive")
    try:
        model = ModelConfig(args.image_size, args.z_dim, ModelConfig.gf if args.gf is None else args.gf,
                            ModelConfig.df if args.df is None else args.df)
        if args.init_from and not args.resume:
            previous = read_model_json(args.init_from)["config"]
            if args.image_size == 2 * previous.image_size:
                model = previous.grown()
            elif args.image_size == previous.image_size:  # training a model on: its own widths unless told
                model = replace(previous, gf=previous.gf if args.gf is None else args.gf,
                                df=previous.df if args.df is None else args.df)
        if args.output_blur is not None:
            model = replace(model, output_blur=args.output_blur)
        config = TrainConfig(
            batch_size=args.batch_size,
            steps=args.steps,
            log_every=args.log_every,
            sample_every=args.sample_every,
            checkpoint_every=args.checkpoint_every,
            seed=args.seed,
            ema_decay=args.ema_decay,
            fade_steps=args.fade_steps,
            precision=args.precision,
            learning_rate=args.learning_rate,
            d_learning_rate=args.d_learning_rate,
            label_smoothing=args.label_smoothing,
            spectral_norm=args.spectral_norm,
            r1_gamma=args.r1_gamma,
        )
        strategy = make_strategy(args.strategy, args.cpu_replicas)
        train(args.data, args.out, model, config, resume=args.resume, verbose=2, init_from=args.init_from,
              strategy=strategy)
    except (RunExistsError, FileNotFoundError, ValueError, WeightsError) as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
