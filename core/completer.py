"""Semantic inpainting (Yeh et al.): find the z whose G(z) best fits the known pixels.

    z^ = argmin_z  ||W * (G(z) - y)||_1  +  lam * log(1 - D(G(z)))      (z clipped to [-1, 1])
    G' = G fine-tuned for a few steps on the known pixels of this image, from z^
    x  = M * y + (1 - M) * G'(z^), then colour fit and Poisson blending

Fills to choose from (other_fills) start at other z of the same pool, search a few steps with a reward for lying far
apart in the hole from the first fill and from each other, and are drawn by the first fill's G'.

The perceptual term is computed as the generator's non-saturating loss -log D(G(z)),
as in Amos's code: it has the same minimiser and does not vanish where D is sure.

The search may compute G and D in bfloat16 (CompletionConfig.precision: by default where the CPU computes it
natively), with copies of their weights; fine-tuning G stays in float32.

The command-line tool is core.complete; the Inpaint page and the tool share core.pipeline.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Callable, NamedTuple, Sequence

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


# How far apart two fills count at most in one value of the hole (of 2, in [-1, 1]): pushed apart without a cap, the
# other fills' search on lfw-dev found flat grey and brown patches, far from every face in every pixel.
APART_CAP = 0.25


class Repulsion(NamedTuple):
    """What the other fills of each face are pushed away from in their search (Completer.other_fills)."""

    first: tf.Tensor  # (N, S, S, 3) each face's first fill as G draws it, in [-1, 1]
    hole: tf.Tensor  # (N, S, S, 1) 1 in each face's hole


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
    # Per image, the offsets of its fine-tuned G' from G (float16; tuned_weights), when complete() was asked to keep
    # them: other_fills draws with them.
    tuned: list[list[np.ndarray]] | None = None


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

    def _losses(self, z, y, w, lam, factor: int, precision: str, away: Repulsion | None = None, diversity=0.0):
        """Total, contextual and perceptual loss per sample, and G(z). away: rows are each face's other fills, in a
        row per face; the total then rewards, by diversity, how far each lies in the hole from its face's first fill
        and from the face's other fills (summed absolute difference, averaged over the fills compared)."""
        g = self._generate(z, precision)
        contextual = self._contextual(g, y, w, factor)
        logit = tf.cast(self._networks(precision)[1](g, training=False), tf.float32)
        perceptual = tf.nn.softplus(-logit)[:, 0]  # -log D(G(z))
        total = contextual + lam * perceptual
        if away is not None:
            total -= diversity * self._apart(g, away)
        return total, contextual, perceptual, g

    @staticmethod
    def _apart(g, away: Repulsion):
        """How far each row of g (a face's other fills, in a row) lies in the hole from the face's first fill and its
        other fills: the mean over them of the summed absolute difference in the hole, (rows,)."""
        faces = tf.shape(away.first)[0]
        others = tf.reshape(g, tf.concat([[faces, -1], tf.shape(g)[1:]], 0))  # (faces, count, S, S, 3)
        compared = tf.concat([tf.stop_gradient(away.first)[:, None], others], axis=1)  # (faces, count + 1, ...)
        hole = away.hole[:, None, None]
        difference = tf.minimum(tf.abs(others[:, :, None] - compared[:, None]), APART_CAP)
        apart = tf.reduce_sum(difference * hole, axis=[3, 4, 5])
        count = tf.cast(tf.shape(others)[1], tf.float32)
        return tf.reshape(tf.reduce_sum(apart, axis=2) / count, [-1])  # the difference of a fill to itself is 0

    def _gradient(self, z, y, w, lam, factor, precision, away=None, diversity=0.0):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = self._losses(z, y, w, lam, factor, precision, away, diversity)[0]
        return loss, tape.gradient(loss, z)

    @staticmethod
    def hyperparameters(config: CompletionConfig) -> tf.Tensor:
        """The optimiser settings as one tensor, in the order _iterate unpacks them."""
        return tf.constant(
            [config.learning_rate, config.beta1, config.beta2, config.momentum, config.lam, config.hmc_leapfrog,
             config.diversity],
            tf.float32,
        )

    @tf.function(reduce_retracing=True)
    def _iterate(self, z, m, v, t, best_z, best_loss, y, w, n, hp, optimizer: str, factor: int, precision: str,
                 away: Repulsion | None = None):
        """n optimiser steps on z; hp = (lr, beta1, beta2, momentum, lam, leapfrog, diversity); HMC's step is lr.
        away: the rows are other fills, pushed apart (_losses)."""
        lr, beta1, beta2, momentum, lam, leapfrog, diversity = tf.unstack(hp)
        for _ in tf.range(n):
            loss, grad = self._gradient(z, y, w, lam, factor, precision, away, diversity)
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
                z = self._hmc_step(z, loss, grad, y, w, lam, lr, leapfrog, factor, precision, away, diversity)
        loss = self._losses(z, y, w, lam, factor, precision, away, diversity)[0]
        better = loss < best_loss
        return z, m, v, t, tf.where(better[:, None], z, best_z), tf.where(better, loss, best_loss)

    def _hmc_step(self, z, loss, grad, y, w, lam, eps, leapfrog, factor, precision, away, diversity):
        """Hamiltonian Monte Carlo: leapfrog along the loss surface, Metropolis-accept per sample."""
        p = tf.random.normal(tf.shape(z))
        h0 = loss + 0.5 * tf.reduce_sum(p * p, axis=1)
        zn, pn, last_loss, last_grad = z, p - 0.5 * eps * grad, loss, grad
        for _ in tf.range(tf.cast(leapfrog, tf.int32)):
            zn = tf.clip_by_value(zn + eps * pn, -1.0, 1.0)
            last_loss, last_grad = self._gradient(zn, y, w, lam, factor, precision, away, diversity)
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

    def _offsets(self) -> list[np.ndarray]:
        """The copy of G's weights as float16 offsets from G's own. Hold _tune_lock."""
        return [(np.array(tuned) - np.array(own)).astype(np.float16)
                for tuned, own in zip(self._tuned_copy().weights, self.generator.weights)]

    def tuned_generate(self, z: tf.Tensor, y: tf.Tensor, w: tf.Tensor, config: CompletionConfig, factor: int,
                       keep: bool = False) -> tuple[np.ndarray, list[list[np.ndarray]] | None]:
        """G'(z) per image, where G' is G fine-tuned for config.tune_steps steps on that image alone, and with keep,
        each image's G' as offsets from G (_offsets), to draw other fills of the face by it (other_fills)."""
        drawn, offsets = [], []
        with self._tune_lock:
            for i in range(len(z)):
                drawn.append(self._fit_copy(z[i : i + 1], y[i : i + 1], w[i : i + 1], config, factor).numpy())
                if keep:
                    offsets.append(self._offsets())
        return np.concatenate(drawn, axis=0), offsets if keep else None

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
            return self._offsets()

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
        (a batch dimension of None), so a user's first fill, and the other fills to choose from, run as fast as the
        ones after it. Seconds: call it off the request path (pages.common starts it in a thread). The arguments
        mirror complete()'s and other_fills()'s calls; a test checks that fills after it trace nothing."""
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
            for away in (None, Repulsion(y, w)):
                self._iterate.get_concrete_function(z, z, z, spec(), z, spec(None), y, w, steps, spec(7),
                                                    config.optimizer, 1, precision, away)
            self._draw.get_concrete_function(z, precision)
            self._evaluate.get_concrete_function(z, y, w, config.lam, 1, precision)
            self._tune.get_concrete_function(z, y, w, steps, 1)
            # A function is optimised when it first runs, not when traced: run each once, on G's own face.
            face = to_uint8(self.generator(sample_z(1, self.z_dim, seed=0), training=False).numpy()[0])
            quick = replace(config, iterations=2, variant_iterations=1, report_every=1, tune_steps=1)
            first = self.complete(face, center_mask(s), quick, lambda *report: None, keep_tuned=True)
            self.other_fills(face, center_mask(s), first, 1, quick)

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

    def _ranked_pool(self, y, known, w, config: CompletionConfig, factor: int,
                     size: int) -> list[tuple[tf.Tensor, int | None]]:
        """Per face, a pool of max(config.init_pool, size) random z and the encoder's guess where there is one,
        ordered by how well G(z) fits the face's known pixels (forward passes only), and where the guess ranks.
        The same faces and settings give the same pool, so complete() and other_fills() draw their starts from one."""
        guesses = None
        if config.use_encoder and self.model.encoder is not None and factor == 1:
            guesses = self.model.encoder(encoder_input(y, known), training=False)
        pools = []
        for face in range(len(y)):
            z = sample_z(max(config.init_pool, size), self.z_dim, config.seed * 7919 + face)
            if guesses is not None:
                z = tf.concat([guesses[face : face + 1], z], axis=0)
            pool = z.shape[0]
            scores = self._fit_only(z, tf.repeat(y[face : face + 1], pool, axis=0),
                                    tf.repeat(w[face : face + 1], pool, axis=0), factor, config.precision)
            order = np.argsort(scores.numpy(), kind="stable")
            pools.append((tf.gather(z, order), None if guesses is None else int(np.flatnonzero(order == 0)[0])))
        return pools

    def _inputs(self, images: np.ndarray, masks: Mask | Sequence[Mask], config: CompletionConfig):
        """Checked inputs of a completion as tensors: faces y in [-1, 1], known pixels, contextual weights, their
        masks and the masks' shared lowres factor."""
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
        known = tf.constant(np.stack([mask.known for mask in masks])[..., None].astype(np.float32))
        w = tf.constant(np.stack([contextual_weights(mask, config.weighted) for mask in masks]))
        return tf.constant(y), known, w, masks, factors.pop()

    def _blended(self, y: tf.Tensor, generated: np.ndarray, masks: list[Mask], config: CompletionConfig,
                 factor: int) -> tuple[np.ndarray, np.ndarray]:
        """The faces with their holes filled by generated, as is (float) and Poisson-blended (uint8)."""
        y = y.numpy()
        filled = np.where(np.stack([mask.fill for mask in masks])[..., None], generated, y)
        if not (config.blend and factor == 1):
            return filled, to_uint8(filled)
        return filled, np.stack([blend_fill(to_uint8(yi), to_uint8(gi), mask.fill, config)
                                 for yi, gi, mask in zip(y, generated, masks)])

    def complete(
        self,
        images: np.ndarray,
        masks: Mask | Sequence[Mask],
        config: CompletionConfig | None = None,
        callback: ProgressCallback | None = None,
        keep_tuned: bool = False,
    ) -> Completion:
        """Complete N aligned faces (N, S, S, 3; uint8 or float in [-1, 1]) under their masks.

        Each starts at the best fits of its pool (config.restarts of them; the encoder's guess among them), searches
        config.iterations steps, and the lowest loss wins; G is then fine-tuned to it (config.tune_steps) and the
        fill blended. keep_tuned: keep each face's fine-tuned G', for other_fills. config None: the model's own
        defaults (TrainedModel.completion).
        """
        config = self.model.completion if config is None else config
        self._after_warm_up()
        self._networks(config.precision)
        y, known, w, masks, factor = self._inputs(images, masks, config)
        n, k = len(y), config.restarts
        if config.init_pool:
            z = tf.concat([pool[:k] for pool, _ in self._ranked_pool(y, known, w, config, factor, k)], axis=0)
        else:
            z = sample_z(n * k, self.z_dim, config.seed)
        y_k, w_k = tf.repeat(y, k, axis=0), tf.repeat(w, k, axis=0)
        hp = self.hyperparameters(config)
        m = v = tf.zeros_like(z)
        t = tf.constant(0.0)
        best_z, best_loss = z, tf.fill([n * k], np.float32(np.inf))
        fill = np.stack([mask.fill for mask in masks])[..., None]
        history: list[tuple[int, float]] = []
        done = 0
        while done < config.iterations:
            chunk = min(config.report_every, config.iterations - done)
            z, m, v, t, best_z, best_loss = self._iterate(
                z, m, v, t, best_z, best_loss, y_k, w_k, tf.constant(chunk), hp, config.optimizer, factor,
                config.precision,
            )
            done += chunk
            per_image = tf.reshape(best_loss, (n, k)).numpy()
            history.append((done, float(per_image.min(axis=1).mean())))
            if callback is not None:
                preview = self._draw(self._pick(best_z, per_image), config.precision).numpy()
                if callback(done, per_image.min(axis=1), np.where(fill, preview, y.numpy())) is False:
                    break

        restart_losses = tf.reshape(best_loss, (n, k)).numpy()
        z_hat = self._pick(best_z, restart_losses)
        loss, contextual, perceptual, generated = (
            a.numpy() for a in self._evaluate(z_hat, y, w, config.lam, factor, config.precision))
        tuned = None
        if config.tune_steps:
            generated, tuned = self.tuned_generate(z_hat, y, w, config, factor, keep_tuned)
        filled, blended = self._blended(y, generated, masks, config, factor)
        return Completion(z_hat.numpy(), generated, filled, blended, loss, contextual, perceptual, restart_losses,
                          done, history, tuned)

    def other_fills(self, images: np.ndarray, masks: Mask | Sequence[Mask], first: Completion, count: int,
                    config: CompletionConfig | None = None) -> Completion:
        """count more fills of each face that first filled (complete with keep_tuned), to choose from; the
        Completion holds N * count fills, each face's in a row.

        Each starts at another of the pool's best fits (never the encoder's guess, which the first fill had), and
        searches config.variant_iterations steps pushed apart in the hole (config.diversity) from the face's first
        fill and its other fills: they need only be plausible and different. Each is drawn by the first fill's G',
        so it fits the known pixels as closely, and blended.
        """
        config = self.model.completion if config is None else config
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a whole number >= 1, got {count!r}")
        self._after_warm_up()
        self._networks(config.precision)
        y, known, w, masks, factor = self._inputs(images, masks, config)
        if len(first.z) != len(y):
            raise ValueError(f"first holds {len(first.z)} fills for {len(y)} faces.")
        if config.tune_steps and first.tuned is None:
            raise ValueError("other_fills draws by the first fill's fine-tuned G: call complete with keep_tuned=True.")
        k, n = config.restarts, len(y) * count
        if config.init_pool:
            pools = self._ranked_pool(y, known, w, config, factor, k + count)
            z = tf.concat([self._other_starts(pool, guess, k, count) for pool, guess in pools], axis=0)
        else:
            z = sample_z(n, self.z_dim, config.seed + 1)
        away = Repulsion(self._draw(tf.constant(first.z), config.precision),
                         tf.constant(np.stack([mask.fill for mask in masks])[..., None].astype(np.float32)))
        y_c, w_c = tf.repeat(y, count, axis=0), tf.repeat(w, count, axis=0)
        m = v = tf.zeros_like(z)
        _, _, _, _, z_hat, best = self._iterate(
            z, m, v, tf.constant(0.0), z, tf.fill([n], np.float32(np.inf)), y_c, w_c,
            tf.constant(config.variant_iterations), self.hyperparameters(config), config.optimizer, factor,
            config.precision, away,
        )
        loss, contextual, perceptual, generated = (
            a.numpy() for a in self._evaluate(z_hat, y_c, w_c, config.lam, factor, config.precision))
        if config.tune_steps:
            generated = np.concatenate([self.generate_with(first.tuned[i], z_hat[i * count : (i + 1) * count])
                                        for i in range(len(y))])
        filled, blended = self._blended(y_c, generated, [mask for mask in masks for _ in range(count)], config,
                                        factor)
        return Completion(z_hat.numpy(), generated, filled, blended, loss, contextual, perceptual, best.numpy()[:, None],
                          config.variant_iterations)

    @staticmethod
    def _other_starts(pool: tf.Tensor, guess: int | None, taken: int, count: int) -> tf.Tensor:
        """count starts from a face's ranked pool (_ranked_pool) for its other fills: the best after the taken that
        its first fill started from, never the encoder's guess (at rank guess)."""
        return tf.gather(pool, [j for j in range(taken, len(pool)) if j != guess][:count])

    @staticmethod
    def _pick(best_z: tf.Tensor, per_image_loss: np.ndarray) -> tf.Tensor:
        """The lowest-loss restart of each image."""
        n, k = per_image_loss.shape
        return tf.gather(best_z, np.arange(n) * k + per_image_loss.argmin(axis=1))
