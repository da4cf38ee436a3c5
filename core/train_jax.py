"""Train the DCGAN with Keras on JAX, for a GPU machine that has JAX but no TensorFlow.

python -m core.train_jax --data faces.zip --init-from weights --out OUT --minutes 8 [--batch-size 64] [--r1-gamma 0.005]

The same networks (core.networks), losses, schedule (one D update, then g_steps G updates on the same z), R1 penalty
and moving average of G as core.train's DCGAN.train_step, written with Keras's stateless API (`stateless_call`,
`stateless_apply`) so one jitted JAX function does a whole step; tests/test_train_jax.py checks that both give the
same losses and weights from the same start on the same batches. It trains from a published model for a fixed wall
time and writes OUT/model (the averaged G and D, as core.weights loads them), OUT/losses.csv and, if asked, whole
models at chosen minutes (OUT/model-stepN). Keras takes its backend when first imported: run this in a process of
its own.
"""
from __future__ import annotations

import os
import sys

if "keras" not in sys.modules:  # Keras reads its backend once, when first imported (JaxGAN checks it got JAX)
    os.environ.setdefault("KERAS_BACKEND", "jax")

import csv  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from core.cli import argument_parser  # noqa: E402
from core.config import PRECISIONS, ModelConfig, TrainConfig  # noqa: E402
from core.networks import build_discriminator, build_generator, dtype_policy  # noqa: E402
from core.weights import (  # noqa: E402
    GENERATOR_FILE, atomic_write, load_model, read_model_json, save_model,
)

LOSSES = "losses.csv"


@dataclass
class StepState:
    """Everything one training step reads and writes, as arrays (a JAX pytree of lists)."""

    g_trainable: list
    g_non_trainable: list
    d_trainable: list
    d_non_trainable: list
    g_optimizer: list
    d_optimizer: list
    ema_trainable: list
    ema_non_trainable: list

    def tree(self) -> tuple:
        return (self.g_trainable, self.g_non_trainable, self.d_trainable, self.d_non_trainable, self.g_optimizer,
                self.d_optimizer, self.ema_trainable, self.ema_non_trainable)


class JaxGAN:
    """G, D, their Adam optimisers and the moving average of G, trained by one jitted step (train_step)."""

    def __init__(self, config: ModelConfig, train: TrainConfig, ema_warm_up: bool = True):
        if keras.backend.backend() != "jax":
            raise RuntimeError(f"core.train_jax needs Keras on JAX; this process loaded Keras on "
                               f"{keras.backend.backend()} (set KERAS_BACKEND=jax before anything imports keras).")
        if train.fade_steps or train.spectral_norm:
            raise ValueError("core.train_jax trains a plain model on: no fade-in, no spectral norm.")
        self.config, self.train_config, self.ema_warm_up = config, train, ema_warm_up
        with dtype_policy(train.precision):
            self.generator, self.discriminator = build_generator(config), build_discriminator(config)
        self.ema_generator = build_generator(config)
        self.g_optimizer = keras.optimizers.Adam(train.learning_rate, beta_1=train.beta1)
        self.d_optimizer = keras.optimizers.Adam(train.d_learning_rate, beta_1=train.beta1)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        # The step count the moving average's warm-up reads: D's optimiser's iterations, as in DCGAN.update_ema.
        self._iterations = next(i for i, v in enumerate(self.d_optimizer.variables) if v is self.d_optimizer.iterations)
        import jax

        self._step = jax.jit(self._train_step, donate_argnums=0)

    def start_from(self, folder: Path) -> dict[str, Any]:
        """G and D from a published model of the same config (the averaged G also starts the average); the card's
        lines for the run, as core.train.initialise_from writes them."""
        previous = load_model(folder, expect=self.config)
        self.generator.set_weights(previous.generator.get_weights())
        self.discriminator.set_weights(previous.discriminator.get_weights())
        self.ema_generator.set_weights(previous.generator.get_weights())
        self.ema_warm_up = not previous.card.get("ema_decay")
        return {"initialised_from": str(folder), "previous_steps": int(previous.card.get("steps", 0)),
                "ema_warm_up": self.ema_warm_up}

    def state(self) -> StepState:
        def values(variables):
            return [v.value for v in variables]

        return StepState(values(self.generator.trainable_variables), values(self.generator.non_trainable_variables),
                         values(self.discriminator.trainable_variables),
                         values(self.discriminator.non_trainable_variables),
                         values(self.g_optimizer.variables), values(self.d_optimizer.variables),
                         values(self.ema_generator.trainable_variables),
                         values(self.ema_generator.non_trainable_variables))

    def assign(self, state: StepState) -> None:
        """Write a state back into the Keras variables (to save or sample)."""
        pairs = ((self.generator.trainable_variables, state.g_trainable),
                 (self.generator.non_trainable_variables, state.g_non_trainable),
                 (self.discriminator.trainable_variables, state.d_trainable),
                 (self.discriminator.non_trainable_variables, state.d_non_trainable),
                 (self.g_optimizer.variables, state.g_optimizer), (self.d_optimizer.variables, state.d_optimizer),
                 (self.ema_generator.trainable_variables, state.ema_trainable),
                 (self.ema_generator.non_trainable_variables, state.ema_non_trainable))
        for variables, values in pairs:
            for variable, value in zip(variables, values):
                variable.assign(value)

    def train_step(self, state: StepState, real: np.ndarray, z: np.ndarray) -> tuple[StepState, dict[str, float]]:
        """One D update and g_steps G updates on real faces in [-1, 1] and their z; then one step of the average."""
        tree, losses = self._step(state.tree(), real, z)
        return StepState(*tree), losses

    def _train_step(self, tree: tuple, real, z):
        import jax
        from keras import ops

        g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov, ema_tv, ema_ntv = tree
        t = self.train_config
        G, D = self.generator, self.discriminator
        ones = ops.ones((real.shape[0], 1))
        real_labels = ones * (1.0 - t.label_smoothing)

        def d_loss(d_tv, g_ntv, d_ntv):
            fake, g_ntv = G.stateless_call(g_tv, g_ntv, z, training=True)

            def real_logits(image):
                logits, ntv = D.stateless_call(d_tv, d_ntv, image, training=True)
                return ops.sum(ops.cast(logits, "float32")), (logits, ntv)

            if t.r1_gamma:
                slopes, (logits, d_ntv) = jax.grad(real_logits, has_aux=True)(real)
            else:
                _, (logits, d_ntv) = real_logits(real)
            loss_real = self.bce(real_labels, ops.cast(logits, "float32"))
            fake_logits, d_ntv = D.stateless_call(d_tv, d_ntv, fake, training=True)
            loss_fake = self.bce(ops.zeros_like(ones), ops.cast(fake_logits, "float32"))
            loss = loss_real + loss_fake
            if t.r1_gamma:
                loss = loss + t.r1_gamma / 2 * ops.mean(ops.sum(ops.square(slopes), axis=(1, 2, 3)))
            return loss, (loss_real, loss_fake, g_ntv, d_ntv)

        grads, (loss_real, loss_fake, g_ntv, d_ntv) = jax.grad(d_loss, has_aux=True)(d_tv, g_ntv, d_ntv)
        d_tv, d_ov = self.d_optimizer.stateless_apply(d_ov, grads, d_tv)

        def g_loss(g_tv, g_ntv, d_ntv):
            fake, g_ntv = G.stateless_call(g_tv, g_ntv, z, training=True)
            logits, d_ntv = D.stateless_call(d_tv, d_ntv, fake, training=True)
            return self.bce(ones, ops.cast(logits, "float32")), (g_ntv, d_ntv)

        for _ in range(t.g_steps):
            (loss_g, (g_ntv, d_ntv)), grads = jax.value_and_grad(g_loss, has_aux=True)(g_tv, g_ntv, d_ntv)
            g_tv, g_ov = self.g_optimizer.stateless_apply(g_ov, grads, g_tv)

        if t.ema_decay:  # as DCGAN.update_ema after the step, counted by D's optimiser
            step = ops.cast(d_ov[self._iterations], "float32")
            decay = ops.minimum(t.ema_decay, (1 + step) / (10 + step)) if self.ema_warm_up else t.ema_decay
            ema_tv = [decay * a + (1 - decay) * w for a, w in zip(ema_tv, g_tv)]
            ema_ntv = [decay * a + (1 - decay) * ops.cast(w, a.dtype) for a, w in zip(ema_ntv, g_ntv)]
        else:
            ema_tv, ema_ntv = g_tv, g_ntv
        losses = {"d_loss_real": loss_real, "d_loss_fake": loss_fake, "g_loss": loss_g}
        return (g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov, ema_tv, ema_ntv), losses


def read_faces(path: Path, size: int) -> np.ndarray:
    """(N, size, size, 3) uint8 faces from a folder of aligned images or a zip of them (what travels to a GPU)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        images = [Image.open(p).convert("RGB") for p in files]
    else:
        with zipfile.ZipFile(path) as archive:
            images = [Image.open(io.BytesIO(archive.read(name))).convert("RGB") for name in sorted(archive.namelist())
                      if not name.endswith("/")]
    faces = np.stack([np.asarray(image.resize((size, size), Image.LANCZOS) if image.size != (size, size) else image)
                      for image in images])
    if not len(faces):
        raise ValueError(f"{path} holds no faces")
    return faces


def train(faces: np.ndarray, out: Path, init_from: Path, train_config: TrainConfig, minutes: float,
          log_every: int = 50, storage: str = "float32", snapshots: tuple[float, ...] = (),
          held_out: int = 0, output_blur: float | None = None) -> dict[str, Any]:
    """Train from init_from on faces (uint8) until train_config.steps or the wall time; write out/model (the averaged G
    and D, stored as storage: float16 halves them) and out/losses.csv, and a whole model out/model-stepN at each of
    snapshots (minutes into the run), so a run that goes wrong late still brings back its earlier state. The last
    held_out faces are not trained on: each log row gives D's mean probability of "real" on 64 of them and on 64 it
    trains on, which part once D learns its faces by heart. output_blur: ModelConfig.output_blur of the trained model
    (None: init_from's). Returns the card written with the final model."""
    import jax

    out = Path(out)
    start = time.perf_counter()
    if not 0 <= held_out <= len(faces) - 1:
        raise ValueError(f"held_out must leave faces to train on: {held_out} of {len(faces)}")
    faces, unseen = faces[: len(faces) - held_out], faces[len(faces) - held_out :]
    config = read_model_json(init_from)["config"]
    if output_blur is not None:
        config = replace(config, output_blur=output_blur)
    gan = JaxGAN(config, train_config)
    card = gan.start_from(init_from)
    card.update(data=f"{len(faces)} faces", images=len(faces), batch_size=train_config.batch_size,
                learning_rate=train_config.learning_rate, ema_decay=train_config.ema_decay,
                r1_gamma=train_config.r1_gamma, precision=train_config.precision,
                trained_with=f"keras {keras.__version__} on jax {jax.__version__}",
                machine=f"{jax.devices()[0].device_kind}, {platform.machine()}")
    # The faces live on the device and each batch is gathered there, so the host only draws indices and z.
    on_device = jax.device_put(faces)
    gather = jax.jit(lambda images, index: images[index].astype("float32") / 127.5 - 1.0)
    watched = {"seen_real": gather(on_device, np.arange(min(64, len(faces)))),
               "unseen_real": gather(jax.device_put(unseen), np.arange(min(64, len(unseen))))} if held_out else {}

    @jax.jit
    def says_real(d_tv, d_ntv, images):
        logits, _ = gan.discriminator.stateless_call(d_tv, d_ntv, images, training=False)
        return jax.numpy.mean(jax.nn.sigmoid(logits.astype("float32")))

    rng = np.random.default_rng(train_config.seed)
    state, step, rows = gan.state(), 0, []
    deadline, pending = start + 60 * minutes, sorted(start + 60 * m for m in snapshots)
    batch = train_config.batch_size

    def save(folder: Path) -> None:
        """The model as it stands, into folder; the card says the steps and seconds so far."""
        gan.assign(jax.device_get(state))
        card.update(steps=card["previous_steps"] + step, wall_seconds=round(time.perf_counter() - start, 1))
        generator = gan.ema_generator if train_config.ema_decay else gan.generator
        save_model(folder, config, generator, gan.discriminator, card, storage)

    while step < train_config.steps and time.perf_counter() < deadline:
        real = gather(on_device, rng.integers(0, len(faces), batch))
        z = rng.uniform(-1, 1, (batch, config.z_dim)).astype(np.float32)
        state, losses = gan.train_step(state, real, z)
        step += 1
        if step % log_every == 0 or step == 1:
            rows.append({"step": step, **{k: float(v) for k, v in losses.items()},
                         **{k: float(says_real(state.d_trainable, state.d_non_trainable, v)) for k, v in watched.items()},
                         "seconds": round(time.perf_counter() - start, 2)})
            print(", ".join(f"{k} {v}" for k, v in rows[-1].items()), flush=True)
        if pending and time.perf_counter() >= pending[0]:
            pending.pop(0)
            save(out / f"model-step{card['previous_steps'] + step}")
    out.mkdir(parents=True, exist_ok=True)
    save(out / "model")

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, ["step", "d_loss_real", "d_loss_fake", "g_loss", *watched, "seconds"])
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(out / LOSSES, write)
    seconds = time.perf_counter() - start
    print(f"{step} steps in {seconds:.0f} s ({step / seconds:.2f} steps/s); wrote {out / 'model' / GENERATOR_FILE}")
    return card


def main(argv: list[str] | None = None) -> None:
    defaults = TrainConfig()
    parser = argument_parser("Train the DCGAN on JAX (a GPU machine without TensorFlow) from a published model.")
    parser.add_argument("--data", required=True, type=Path, help="aligned faces: a folder or a zip of images")
    parser.add_argument("--init-from", required=True, type=Path, help="the published model to train on (weights)")
    parser.add_argument("--out", required=True, type=Path, help="where model/, the raw G and losses.csv go")
    parser.add_argument("--minutes", type=float, default=8.0, help="wall time to train for")
    parser.add_argument("--steps", type=int, default=1_000_000, help="stop earlier at this many steps")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="faces per step")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate, help="Adam's step size")
    parser.add_argument("--r1-gamma", type=float, default=defaults.r1_gamma, help="R1 penalty weight (0: none)")
    parser.add_argument("--output-blur", type=float,
                        help="low-pass G's faces this far, 0-1 (ModelConfig.output_blur; default: --init-from's)")
    parser.add_argument("--precision", choices=PRECISIONS, default=defaults.precision, help="compute dtype policy")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the batches and of z")
    parser.add_argument("--log-every", type=int, default=50, help="steps between rows of losses.csv")
    parser.add_argument("--storage", choices=("float32", "float16"), default="float32",
                        help="the written weights' precision (float16 halves them, as weights/ stores them)")
    parser.add_argument("--held-out", type=int, default=0,
                        help="faces kept from training, on which D's 'real' is logged beside the trained-on faces'")
    parser.add_argument("--snapshots", type=float, nargs="*", default=(),
                        help="minutes into the run at which to write a whole model as well (OUT/model-stepN)")
    args = parser.parse_args(argv)
    try:
        config = TrainConfig(batch_size=args.batch_size, steps=args.steps, learning_rate=args.learning_rate,
                             r1_gamma=args.r1_gamma, precision=args.precision, seed=args.seed)
        faces = read_faces(args.data, read_model_json(args.init_from)["config"].image_size)
        train(faces, args.out, args.init_from, config, args.minutes, args.log_every, args.storage,
              tuple(args.snapshots), args.held_out, args.output_blur)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        parser.exit(2, f"error: {err}\n")


if __name__ == "__main__":
    main()
