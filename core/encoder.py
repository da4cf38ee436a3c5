"""A learned first guess of z for completion: E(masked face, mask) -> z, trained on G's own samples.

In-domain inversion (Lahiri et al. 2019): G draws a face from a known z, a random mask hides
part of it, and E learns to give a z whose G(z) rebuilds the whole face. Completion adds E's
guess to its pool of random starts, and the best fit of the known pixels wins, so E can only
make the start better. E is optional: a weights folder without it works as before.

CLI: python -m core.encoder --weights weights --steps 2000   (writes weights/encoder.weights.h5)
"""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.cli import argument_parser
from core.masks import center_mask, left_mask, stroke_mask
from core.model import build_encoder
from core.weights import (
    ENCODER_FILE, MODEL_JSON, TrainedModel, WeightsError, load_model, read_model_json, save_network, write_json,
)

def encoder_input(faces: tf.Tensor, known: tf.Tensor) -> tf.Tensor:
    """faces (N, S, S, 3) in [-1, 1] and known (N, S, S, 1) -> E's input, with the hole's pixels zeroed."""
    return tf.concat([faces * known, known], axis=-1)


def training_masks(size: int, count: int = 512, seed: int = 0) -> np.ndarray:
    """(count, size, size) known-pixel masks like users draw: centre squares, halves, boxes and strokes."""
    rng = np.random.default_rng(seed)
    masks = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            masks.append(center_mask(size, scale=rng.uniform(0.15, 0.35)).known)
        elif kind == 1:
            masks.append(np.rot90(left_mask(size).known, rng.integers(4)))
        elif kind == 2:
            known = np.ones((size, size), np.float32)
            h, w = rng.integers(size // 6, size // 2, 2)
            top, left = rng.integers(0, size - h), rng.integers(0, size - w)
            known[top : top + h, left : left + w] = 0
            masks.append(known)
        else:
            masks.append(stroke_mask(size, seed=int(rng.integers(1 << 30))).known)
    return np.stack(masks).astype(np.float32)


class EncoderTrainer(keras.Model):
    """Trains E with G frozen: L1 between G(E(masked G(z))) and G(z) over the whole face, plus |E - z|^2."""

    def __init__(self, generator: keras.Model, encoder: keras.Model, masks: np.ndarray, batch_size: int = 64,
                 latent_weight: float = 0.1, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.encoder = generator, encoder
        self.generator.trainable = False
        self.masks = tf.constant(masks[..., None])
        self.batch_size, self.latent_weight = batch_size, latent_weight
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.z_dim = generator.input_shape[-1]

    @property
    def metrics(self) -> list:
        return [self.loss_tracker]

    def train_step(self, _):
        z = keras.random.uniform((self.batch_size, self.z_dim), -1.0, 1.0, seed=self.seed_generator)
        faces = self.generator(z, training=False)
        index = keras.random.randint((self.batch_size,), 0, self.masks.shape[0], seed=self.seed_generator)
        known = tf.gather(self.masks, index)
        with tf.GradientTape() as tape:
            guess = self.encoder(encoder_input(faces, known), training=True)
            rebuilt = self.generator(guess, training=False)
            loss = tf.reduce_mean(tf.abs(rebuilt - faces)) + self.latent_weight * tf.reduce_mean(tf.square(guess - z))
        variables = self.encoder.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def train_encoder(model: TrainedModel, steps: int, batch_size: int = 64, learning_rate: float = 2e-4,
                  verbose: int | str = "auto", warm_start: bool = False) -> keras.Model:
    """An encoder trained for steps batches of G's own samples under random masks; with warm_start, the
    model's own encoder trained further (after G itself was trained further, a few hundred steps do)."""
    encoder = build_encoder(model.config)
    if warm_start:
        if model.encoder is None:
            raise WeightsError("There is no encoder to start from; train one without --warm-start.")
        encoder.set_weights(model.encoder.get_weights())
    trainer = EncoderTrainer(model.generator, encoder, training_masks(model.config.image_size), batch_size)
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5))
    dummy = tf.data.Dataset.from_tensors(0.0).repeat()
    trainer.fit(dummy, steps_per_epoch=steps, epochs=1, verbose=verbose)
    model.generator.trainable = True
    return encoder


def fit_encoder(folder: Path, steps: int, batch_size: int = 64, warm_start: bool = False,
                verbose: int | str = "auto", command: str | None = None) -> float:
    """Train the encoder of the model in folder (train_encoder) and write it there with its card section; the
    seconds it took. command: how the card says it was made (default: the core.encoder command that does this)."""
    model = load_model(folder)
    start = time.perf_counter()
    encoder = train_encoder(model, steps, batch_size, warm_start=warm_start, verbose=verbose)
    seconds = time.perf_counter() - start
    command = command or f"python -m core.encoder --weights {folder} --steps {steps}" + " --warm-start" * warm_start
    write_encoder(folder, encoder, steps, batch_size, seconds, command, warm_start)
    return seconds


def write_encoder(folder: Path, encoder: keras.Model, steps: int, batch_size: int, seconds: float, command: str,
                  warm_start: bool) -> None:
    """Write a trained encoder into the model folder, with the card section that says how it was trained (a warm
    start also keeps the section of the encoder it started from)."""
    meta = read_model_json(folder)
    config = meta["config"]
    save_network(folder / ENCODER_FILE, build_encoder, config, encoder, meta.get("dtype", "float32"))
    section = {"steps": steps, "batch_size": batch_size, "wall_seconds": round(seconds),
               "trained": date.today().isoformat(), "command": command}
    if warm_start:
        section["started_from"] = meta.get("card", {}).get("encoder", {})
    card = {**meta.get("card", {}), "encoder": section}
    write_json(folder / MODEL_JSON, {**meta, "config": config.to_dict(), "card": card})


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("Train the completion encoder on the generator's own samples.")
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="model folder; the encoder is written there")
    parser.add_argument("--steps", type=int, default=2000, help="training steps")
    parser.add_argument("--batch-size", type=int, default=64, help="G's samples per step")
    parser.add_argument("--warm-start", action="store_true",
                        help="train the folder's own encoder further (after its generator was trained further)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1:
        parser.error("--steps and --batch-size must be positive")
    try:
        seconds = fit_encoder(args.weights, args.steps, args.batch_size, args.warm_start)
    except WeightsError as err:
        parser.exit(2, f"error: {err}\n")
    print(f"wrote {args.weights / ENCODER_FILE} after {args.steps} steps in {seconds:.0f} s")


if __name__ == "__main__":
    main()
