"""Semantic inpainting (Yeh et al.): find the z whose G(z) best fits the known pixels.

    z^ = argmin_z  ||W * (G(z) - y)||_1  +  lam * log(1 - D(G(z)))      (z clipped to [-1, 1])
    G' = G fine-tuned for a few steps on the known pixels of this image, from z^
    x  = M * y + (1 - M) * G'(z^), then colour fit and Poisson blending

The perceptual term is computed as the generator's non-saturating loss -log D(G(z)),
as in Amos's code: it has the same minimiser and does not vanish where D is sure.

The search may compute G and D in bfloat16 (CompletionConfig.precision: by default where the CPU computes it
natively), with copies of their weights; fine-tuning G stays in float32.

The command-line tool is core.complete; the Inpaint page and the tool share core.pipeline.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import cv2
import keras
import numpy as np
import tensorflow as tf

from core.blend import blend_fill
from core.config import CompletionConfig
from core.encoder import encoder_input
from core.images import to_model, to_uint8
from core.masks import Mask, MaskError, center_mask
from core.model import build_discriminator, build_generator, sample_z
from core.weights import TrainedModel

# callback(iteration, loss per image, current completion per image in [-1, 1]) -> False to stop
ProgressCallback = Callable[[int, np.ndarray, np.ndarray], "bool | None"]


@dataclass
class Completion:
    """Completions of N images (all float32 in [-1, 1] unless noted)."""

    z: np.ndarray  # (N, z_dim) the chosen z^
    generated: np.ndarray  # (N, H, W, 3) G(z^), by the per-image fine-tuned G when tune_steps > 0
    filled: np.ndarray  # (N, H, W, 3) M*y + (1-M)*G(z^)
    blended: np.ndarray  # (N, H, W, 3) uint8, Poisson-blended (= filled when blending is off)
    loss: np.ndarray  # (N,) total loss of z^
    contextual: np.ndarray  # (N,)
    perceptual: np.ndarray  # (N,)
    restart_losses: np.ndarray  # (N, restarts) best total loss of each start
    iterations: int
    history: list[tuple[int, float]] = field(default_factory=list)  # (iteration, mean best loss)


def contextual_weights(mask: Mask, weighted: bool = False, window: int = 7) -> np.ndarray:
    """Per-pixel weights of the contextual loss, (h, w, 1).

    Plain: the mask itself. Weighted (the paper): each known pixel counts in
    proportion to the unknown pixels in its window, so pixels near the hole
    matter most. Lowres: ones over the downsampled grid, scaled so one block
    counts like its factor^2 pixels.
    """
    if mask.lowres_factor > 1:
        size = mask.known.shape[0] // mask.lowres_factor
        return np.full((size, size, 1), mask.lowres_factor**2, np.float32)
    known = mask.known.astype(np.float32)
    if weighted:
        unknown_share = cv2.boxFilter(1 - known, -1, (window, window), borderType=cv2.BORDER_CONSTANT)
        known = known * unknown_share
    return known[..., None]


class Completer:
    """Compiled completion for one trained model; reuse it across calls (traces are cached per shape)."""

    def __init__(self, model: TrainedModel):
        self.model = model
        self.generator = model.generator
        self.discriminator = model.discriminator
        self.z_dim = model.config.z_dim
        self.size = model.config.image_size
        self._networks_in = {"float32": (model.generator, model.discriminator)}  # G and D by precision
        self._networks_lock = threading.Lock()
        self._tuned: keras.Model | None = None  # a copy of G that fine-tuning may change
        self._tune_optimizer: keras.optimizers.Optimizer | None = None
        self._tune_lock = threading.Lock()  # one copy of G: completions running at once take turns on it
        self._warming = threading.RLock()  # held by warm_up for its whole run (see _after_warm_up)

    @staticmethod
    def _contextual(g, y, w, factor: int):
        if factor > 1:
            diff = tf.nn.avg_pool2d(g, factor, factor, "VALID") - tf.nn.avg_pool2d(y, factor, factor, "VALID")
        else:
            diff = g - y
        return tf.reduce_sum(tf.abs(diff) * w, axis=[1, 2, 3])

    def _networks(self, precision: str) -> tuple[keras.Model, keras.Model]:
        """G and D computing in precision: the model's own in float32; copies with the same weights otherwise, made on
        first use. Call it before a compiled function uses them: a tf.function may make variables only when first traced."""
        with self._networks_lock:
            if precision not in self._networks_in:
                copies = []
                for build, own in ((build_generator, self.generator), (build_discriminator, self.discriminator)):
                    copy = build(self.model.config, dtype=precision)
                    copy.set_weights(own.get_weights())
                    copies.append(copy)
                self._networks_in[precision] = tuple(copies)
            return self._networks_in[precision]

    def _generate(self, z, precision: str):
        """G(z) in float32, computed in precision."""
        return tf.cast(self._networks(precision)[0](z, training=False), tf.float32)

    def _losses(self, z, y, w, lam, factor: int, precision: str):
        """Total, contextual and perceptual loss per sample, and G(z)."""
        g = self._generate(z, precision)
        contextual = self._contextual(g, y, w, factor)
        logit = tf.cast(self._networks(precision)[1](g, training=False), tf.float32)
        perceptual = tf.nn.softplus(-logit)[:, 0]  # -log D(G(z))
        return contextual + lam * perceptual, contextual, perceptual, g

    def _gradient(self, z, y, w, lam, factor, precision):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = self._losses(z, y, w, lam, factor, precision)[0]
        return loss, tape.gradient(loss, z)

    @staticmethod
    def hyperparameters(config: CompletionConfig) -> tf.Tensor:
        """The optimiser settings as one tensor, in the order _iterate unpacks them."""
        return tf.constant(
            [config.learning_rate, config.beta1, config.beta2, config.momentum, config.lam, config.hmc_leapfrog],
            tf.float32,
        )

    @tf.function(reduce_retracing=True)
    def _iterate(self, z, m, v, t, best_z, best_loss, y, w, n, hp, optimizer: str, factor: int, precision: str):
        """n optimiser steps on z; hp = (lr, beta1, beta2, momentum, lam, leapfrog); HMC's step is lr."""
        lr, beta1, beta2, momentum, lam, leapfrog = tf.unstack(hp)
        for _ in tf.range(n):
            loss, grad = self._gradient(z, y, w, lam, factor, precision)
            better = loss < best_loss
            best_loss = tf.where(better, loss, best_loss)
            best_z = tf.where(better[:, None], z, best_z)
            t += 1.0
            if optimizer == "adam":
                m = beta1 * m + (1 - beta1) * grad
                v = beta2 * v + (1 - beta2) * tf.square(grad)
                step = lr * (m / (1 - beta1**t)) / (tf.sqrt(v / (1 - beta2**t)) + 1e-8)
                z = tf.clip_by_value(z - step, -1.0, 1.0)
            elif optimizer == "momentum":  # Nesterov momentum, as in Amos's write-up
                previous = m
                m = momentum * m - lr * grad
                z = tf.clip_by_value(z - momentum * previous + (1 + momentum) * m, -1.0, 1.0)
            else:
                z = self._hmc_step(z, loss, grad, y, w, lam, lr, leapfrog, factor, precision)
        loss = self._losses(z, y, w, lam, factor, precision)[0]
        better = loss < best_loss
        return z, m, v, t, tf.where(better[:, None], z, best_z), tf.where(better, loss, best_loss)

    def _hmc_step(self, z, loss, grad, y, w, lam, eps, leapfrog, factor, precision):
        """Hamiltonian Monte Carlo: leapfrog along the loss surface, Metropolis-accept per sample."""
        p = tf.random.normal(tf.shape(z))
        h0 = loss + 0.5 * tf.reduce_sum(p * p, axis=1)
        zn, pn, last_loss, last_grad = z, p - 0.5 * eps * grad, loss, grad
        for _ in tf.range(tf.cast(leapfrog, tf.int32)):
            zn = tf.clip_by_value(zn + eps * pn, -1.0, 1.0)
            last_loss, last_grad = self._gradient(zn, y, w, lam, factor, precision)
            pn = pn - eps * last_grad
        pn = pn + 0.5 * eps * last_grad
        h1 = last_loss + 0.5 * tf.reduce_sum(pn * pn, axis=1)
        accept = tf.random.uniform(tf.shape(h0)) < tf.exp(tf.minimum(h0 - h1, 0.0))
        return tf.where(accept[:, None], zn, z)

    @tf.function(reduce_retracing=True)
    def _evaluate(self, z, y, w, lam, factor: int, precision: str):
        return self._losses(z, y, w, lam, factor, precision)

    @tf.function(reduce_retracing=True)
    def _draw(self, z, precision: str):
        """G(z), compiled: the search's previews (an eager Keras call costs several times more)."""
        return self._generate(z, precision)

    @tf.function(reduce_retracing=True)
    def _fit_only(self, z, y, w, factor: int, precision: str):
        """Contextual loss alone: G forward passes only, for scoring the starting pool."""
        return self._contextual(self._generate(z, precision), y, w, factor)

    @tf.function(reduce_retracing=True)
    def _tune(self, z, y, w, n, factor: int):
        """n Adam steps on the copy of G's weights (batch norm in inference mode) to fit y's known pixels."""
        variables = self._tuned.trainable_variables
        for _ in tf.range(n):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(self._contextual(self._tuned(z, training=False), y, w, factor))
            self._tune_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._tuned(z, training=False)

    def _tune_optimizer_for(self, tuned: keras.Model, learning_rate: float) -> keras.optimizers.Optimizer:
        """The fine-tuning optimiser, built for the copy of G on first use, at this learning rate."""
        if self._tune_optimizer is None:
            self._tune_optimizer = keras.optimizers.Adam(learning_rate)
            self._tune_optimizer.build(tuned.trainable_variables)
        self._tune_optimizer.learning_rate.assign(learning_rate)
        return self._tune_optimizer

    def _fit_copy(self, z: tf.Tensor, y: tf.Tensor, w: tf.Tensor, config: CompletionConfig, factor: int) -> tf.Tensor:
        """Reset the copy of G to G, fine-tune it on one image; returns the copy's G'(z). Hold _tune_lock."""
        tuned = self._tuned_copy()
        optimizer = self._tune_optimizer_for(tuned, config.tune_learning_rate)
        for copy, original in zip(tuned.weights, self.generator.weights):
            copy.assign(original)
        for slot in optimizer.variables:
            if slot is not optimizer.learning_rate:
                slot.assign(tf.zeros_like(slot))
        return self._tune(z, y, w, tf.constant(config.tune_steps), factor)

    def tuned_generate(self, z: tf.Tensor, y: tf.Tensor, w: tf.Tensor, config: CompletionConfig, factor: int,
                       group: int = 1) -> np.ndarray:
        """G'(z) per image, where G' is G fine-tuned for config.tune_steps steps on that image's group alone: each
        image by default. Variants of one face (group of them in a row) share one G', fitted to the first of them
        (config.tune_first_variant) or to all their z at once."""
        fitted = 1 if config.tune_first_variant else group
        drawn = []
        with self._tune_lock:
            for i in range(0, len(z), group):
                drawn.append(self._fit_copy(z[i : i + fitted], y[i : i + fitted], w[i : i + fitted], config, factor))
                if fitted < group:
                    drawn.append(self._tuned(z[i + fitted : i + group], training=False))
            return np.concatenate([image.numpy() for image in drawn], axis=0)

    def tuned_weights(self, z: np.ndarray, face: np.ndarray, config: CompletionConfig) -> list[np.ndarray]:
        """G's weights fine-tuned for config.tune_steps steps to draw one whole face (uint8) from z, as
        float16 offsets from G's own: a user session keeps them, and the offsets are small, so half the
        memory of float32 weights costs no precision that shows.

        Pivotal tuning (Roich et al. 2022): G' keeps the person's likeness at z and, close to z,
        still moves along G's directions, so an edited z' gives this person edited, not a stranger.
        """
        self._after_warm_up()
        y = tf.constant(to_model(face)[None])
        with self._tune_lock:
            self._fit_copy(tf.constant(z[None], tf.float32), y, tf.ones_like(y[..., :1]), config, 1)
            return [(np.array(tuned) - np.array(own)).astype(np.float16)
                    for tuned, own in zip(self._tuned_copy().weights, self.generator.weights)]

    def generate_with(self, weights: list[np.ndarray] | None, z: np.ndarray) -> np.ndarray:
        """G(z) in [-1, 1] drawn with G's weights plus these offsets (from tuned_weights), or by G itself when None."""
        z = tf.constant(np.asarray(z, np.float32))
        if weights is None:
            return self.generator(z, training=False).numpy()
        with self._tune_lock:
            tuned = self._tuned_copy()
            for variable, own, offset in zip(tuned.weights, self.generator.weights, weights):
                variable.assign(own + offset.astype(np.float32))
            return tuned(z, training=False).numpy()

    def first_look(self, face: np.ndarray, mask: Mask) -> np.ndarray | None:
        """The encoder's guess at one aligned face (uint8) under mask, in the hole, in [-1, 1]: a picture to
        show at once while the search runs (a few milliseconds). None without an encoder or for a lowres mask."""
        if self.model.encoder is None or mask.lowres_factor > 1:
            return None
        y = tf.constant(to_model(face)[None])
        known = tf.constant(mask.known[None, ..., None].astype(np.float32))
        guess = self.generator(self.model.encoder(encoder_input(y, known), training=False), training=False)
        return np.where(mask.fill[..., None], guess.numpy()[0], y.numpy()[0])

    def warm_up(self) -> None:
        """Trace the compiled functions a fill with the default settings calls, once each, for any number of faces
        (a batch dimension of None), so a user's first fill, of one or several variants, runs as fast as the ones
        after it. Seconds: call it off the request path (pages.common starts it in a thread). The arguments mirror
        complete()'s calls; a test checks that a fill after it traces nothing."""
        config = self.model.completion
        precision, s = config.precision, self.size
        with self._warming:
            self._networks(precision)
            with self._tune_lock:
                self._tune_optimizer_for(self._tuned_copy(), config.tune_learning_rate)

            def spec(*shape: int | None, dtype: tf.DType = tf.float32) -> tf.TensorSpec:
                return tf.TensorSpec(shape, dtype)

            z, y, w, steps = spec(None, self.z_dim), spec(None, s, s, 3), spec(None, s, s, 1), spec(dtype=tf.int32)
            self._fit_only.get_concrete_function(z, y, w, 1, precision)
            self._iterate.get_concrete_function(z, z, z, spec(), z, spec(None), y, w, steps, spec(6), config.optimizer,
                                                1, precision)
            self._draw.get_concrete_function(z, precision)
            self._evaluate.get_concrete_function(z, y, w, config.lam, 1, precision)
            self._tune.get_concrete_function(z, y, w, steps, 1)
            # A function is optimised when it first runs, not when traced: run each once, on G's own face.
            face = to_uint8(self.generator(sample_z(1, self.z_dim, seed=0), training=False).numpy()[0])
            self.complete(face, center_mask(s), replace(config, iterations=2, report_every=1, tune_steps=1),
                          lambda *report: None)

    def _after_warm_up(self) -> None:
        """Wait for a warm-up in progress in another thread. Its traces are the caller's anyway, and two threads
        tracing at once race: autograph parses the functions' source into Python AST objects, whose recursion
        CPython 3.11 counts once per interpreter ("SystemError: AST constructor recursion depth mismatch")."""
        with self._warming:
            pass

    def _tuned_copy(self) -> keras.Model:
        """The one copy of G that fine-tuning may change, made on first use."""
        if self._tuned is None:
            self._tuned = keras.models.clone_model(self.generator)
        return self._tuned

    def _initial_z(self, y, known, w, config: CompletionConfig, factor: int, group: int) -> tf.Tensor:
        """restarts z per image: random, or the best-fitting of an init_pool of random z and the encoder's guess.

        Images come in groups of group copies of one face (its variants). A group scores one pool: its first image
        takes the best z, the encoder's guess among them; the others take the next-best random z in turn (never the
        guess), so each starts elsewhere and ends in another face."""
        n, k = y.shape[0], config.restarts
        if not config.init_pool:
            return sample_z(n * k, self.z_dim, config.seed)
        guesses = None
        if config.use_encoder and self.model.encoder is not None and factor == 1:
            guesses = self.model.encoder(encoder_input(y[::group], known[::group]), training=False)
        chosen = []
        for face, i in enumerate(range(0, n, group)):
            z = sample_z(max(config.init_pool, k * group), self.z_dim, config.seed * 7919 + face)
            if guesses is not None:
                z = tf.concat([guesses[face : face + 1], z], axis=0)
            pool = z.shape[0]
            scores = self._fit_only(z, tf.repeat(y[i : i + 1], pool, axis=0), tf.repeat(w[i : i + 1], pool, axis=0),
                                    factor, config.precision)
            order = np.argsort(scores.numpy(), kind="stable")
            rest = [j for j in order[k:] if guesses is None or j != 0]
            chosen.append(tf.gather(z, np.concatenate([order[:k], rest[: k * (group - 1)]]).astype(np.int64)))
        return tf.concat(chosen, axis=0)

    def complete(
        self,
        images: np.ndarray,
        masks: Mask | Sequence[Mask],
        config: CompletionConfig | None = None,
        callback: ProgressCallback | None = None,
        variants: int = 1,
    ) -> Completion:
        """Complete N aligned faces (N, S, S, 3; uint8 or float in [-1, 1]) under their masks.

        variants: fill each face this many times, to choose from; the Completion then holds N * variants fills,
        each face's together. The first is the single fill's method; the others may not start at the encoder's
        guess, so they start from other random z and end in other faces, and stop searching after
        config.variant_iterations steps. A face's variants share one fine-tuned G. config None: the model's own
        defaults (TrainedModel.completion).
        """
        config = self.model.completion if config is None else config
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[1:] != (self.size, self.size, 3):
            raise ValueError(f"Expected aligned faces of shape (N, {self.size}, {self.size}, 3), got {images.shape}.")
        y = to_model(images) if images.dtype == np.uint8 else images.astype(np.float32)
        if not np.isfinite(y).all():
            raise ValueError("The images hold NaN or infinite values.")
        masks = [masks] * len(y) if isinstance(masks, Mask) else list(masks)
        if len(masks) != len(y):
            raise MaskError(f"{len(masks)} masks for {len(y)} images.")
        for mask in masks:
            if mask.known.shape != (self.size, self.size):
                raise MaskError(f"A mask is {mask.known.shape}, the model's images are {self.size}x{self.size}.")
        factors = {mask.lowres_factor for mask in masks}
        if len(factors) > 1:
            raise MaskError("Low-resolution and pixel masks cannot be mixed in one call.")
        factor = factors.pop()
        if not isinstance(variants, int) or variants < 1:
            raise ValueError(f"variants must be a whole number >= 1, got {variants!r}")
        y = np.repeat(y, variants, axis=0)
        masks = [mask for mask in masks for _ in range(variants)]

        n, k = len(y), config.restarts
        self._after_warm_up()
        self._networks(config.precision)
        w = np.stack([contextual_weights(mask, config.weighted) for mask in masks])
        y_t, w_t = tf.constant(y), tf.constant(w)
        known = tf.constant(np.stack([mask.known for mask in masks])[..., None])
        z = self._initial_z(y_t, known, w_t, config, factor, variants)
        y_k, w_k = tf.repeat(y_t, k, axis=0), tf.repeat(w_t, k, axis=0)
        hp = self.hyperparameters(config)
        m = v = tf.zeros_like(z)
        t = tf.constant(0.0)
        best_z, best_loss = z, tf.fill([n * k], np.float32(np.inf))
        # The rows (starts) still searching: all, until variants other than each face's first stop.
        rows, parked = np.arange(n * k), None
        narrow_at = config.variant_iterations if variants > 1 else config.iterations
        fill = np.stack([mask.fill for mask in masks])[..., None]
        history: list[tuple[int, float]] = []
        done = 0
        all_z, all_loss = best_z, best_loss  # every row's best, the stopped variants' included
        while done < config.iterations:
            if parked is None and done >= narrow_at:
                parked, rows = (best_z, best_loss), np.flatnonzero(rows // k % variants == 0)
                z, m, v, best_z, best_loss, y_k, w_k = (tf.gather(a, rows) for a in (z, m, v, best_z, best_loss, y_k, w_k))
            until = config.iterations if parked is not None else min(narrow_at, config.iterations)
            chunk = min(config.report_every, until - done)
            z, m, v, t, best_z, best_loss = self._iterate(
                z, m, v, t, best_z, best_loss, y_k, w_k, tf.constant(chunk), hp, config.optimizer, factor,
                config.precision,
            )
            done += chunk
            all_z, all_loss = (best_z, best_loss) if parked is None else (
                tf.tensor_scatter_nd_update(kept, rows[:, None], searched)
                for kept, searched in zip(parked, (best_z, best_loss)))
            per_image = tf.reshape(all_loss, (n, k)).numpy()
            history.append((done, float(per_image.min(axis=1).mean())))
            if callback is not None:
                winner = self._pick(all_z, per_image)
                preview = self._draw(winner, config.precision).numpy()
                if callback(done, per_image.min(axis=1), np.where(fill, preview, y)) is False:
                    break

        restart_losses = tf.reshape(all_loss, (n, k)).numpy()
        z_hat = self._pick(all_z, restart_losses)
        loss, contextual, perceptual, generated = (
            a.numpy() for a in self._evaluate(z_hat, y_t, w_t, config.lam, factor, config.precision))
        if config.tune_steps:
            generated = self.tuned_generate(z_hat, y_t, w_t, config, factor, group=variants)
        filled = np.where(fill, generated, y)
        if config.blend and factor == 1:
            blended = np.stack([
                blend_fill(to_uint8(yi), to_uint8(gi), mask.fill, config) for yi, gi, mask in zip(y, generated, masks)
            ])
        else:
            blended = to_uint8(filled)
        return Completion(
            z_hat.numpy(), generated, filled, blended, loss, contextual, perceptual, restart_losses, done, history
        )

    @staticmethod
    def _pick(best_z: tf.Tensor, per_image_loss: np.ndarray) -> tf.Tensor:
        """The lowest-loss restart of each image."""
        n, k = per_image_loss.shape
        return tf.gather(best_z, np.arange(n) * k + per_image_loss.argmin(axis=1))
