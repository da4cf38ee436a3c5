"""The search on z (Yeh et al.): the z whose G(z) best fits a face's known pixels and that D finds real.

    z^ = argmin_z  ||W * (G(z) - y)||_1  +  lam * log(1 - D(G(z)))      (z clipped to [-1, 1])

The perceptual term is computed as the generator's non-saturating loss -log D(G(z)), as in Amos's code: it has the
same minimiser and does not vanish where D is sure. A search starts from the best fits of a pool of random z (and the
encoder's guess), scored by forward passes alone. Fills to choose from search with a reward for lying apart in the
hole from the face's first fill and from each other (Repulsion).

G and D may compute in bfloat16 (CompletionConfig.precision: by default where the CPU computes it natively), with
copies of their weights. core.face_filler composes this search with the tuning of G (core.tuning).
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import cv2
import keras
import numpy as np
import tensorflow as tf

from core.config import CompletionConfig
from core.encoder import encoder_input
from core.masks import Mask
from core.model import build_discriminator, build_generator, sample_z
from core.weights import TrainedModel

# How far apart two fills count at most in one value of the hole (of 2, in [-1, 1]): pushed apart without a cap, the
# other fills' search on lfw-dev found flat grey and brown patches, far from every face in every pixel.
APART_CAP = 0.25


class Repulsion(NamedTuple):
    """What the other fills of each face are pushed away from in their search (FaceFiller.other_fills)."""

    first: tf.Tensor  # (N, S, S, 3) each face's first fill as G draws it, in [-1, 1]
    hole: tf.Tensor  # (N, S, S, 1) 1 in each face's hole


def adam_step(grad, m, v, t, learning_rate, beta1=0.9, beta2=0.999):
    """One Adam update (Kingma and Ba) of a tensor optimised by hand in a compiled loop, step t (from 1): the step to
    subtract, and the new first and second moments."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * tf.square(grad)
    return learning_rate * (m / (1 - beta1**t)) / (tf.sqrt(v / (1 - beta2**t)) + 1e-8), m, v


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


def contextual_loss(g, y, w, factor: int):
    """||W * (g - y)||_1 per sample; factor > 1 compares the images averaged over factor x factor blocks."""
    if factor > 1:
        diff = tf.nn.avg_pool2d(g, factor, factor, "VALID") - tf.nn.avg_pool2d(y, factor, factor, "VALID")
    else:
        diff = g - y
    return tf.reduce_sum(tf.abs(diff) * w, axis=[1, 2, 3])


def hyperparameters(config: CompletionConfig) -> tf.Tensor:
    """The optimiser settings as one tensor, in the order ZSearch.iterate unpacks them (one trace serves them all)."""
    return tf.constant(
        [config.learning_rate, config.beta1, config.beta2, config.momentum, config.lam, config.hmc_leapfrog,
         config.diversity],
        tf.float32,
    )


def other_starts(pool: np.ndarray, guess: int | None, taken: int, count: int) -> np.ndarray:
    """count starts from a face's ranked pool (ZSearch.ranked_pool) for its other fills: the best after the taken
    that its first fill started from, never the encoder's guess (at rank guess)."""
    return pool[[j for j in range(taken, len(pool)) if j != guess][:count]]


def spread_starts(holes: np.ndarray, first: np.ndarray, count: int) -> np.ndarray:
    """Indices of count candidates, given what each draws in the hole (n, ...) and what the first fill drew there:
    chosen one at a time, each the farthest (mean absolute difference) from the first fill and from those chosen
    before it (farthest-point sampling), the better fit (lower index) on a tie."""
    if not 0 < count <= len(holes):
        raise ValueError(f"count must be from 1 to the {len(holes)} candidates, got {count}")
    axes = tuple(range(1, holes.ndim))
    nearest = np.abs(holes - first).mean(axis=axes)
    chosen: list[int] = []
    for _ in range(count):
        nearest[chosen] = -np.inf
        chosen.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, np.abs(holes - holes[chosen[-1]]).mean(axis=axes))
    return np.array(chosen)


def pick(best_z: tf.Tensor, per_image_loss: np.ndarray) -> tf.Tensor:
    """The lowest-loss restart of each image: best_z holds N x k rows, per_image_loss is (N, k)."""
    n, k = per_image_loss.shape
    return tf.gather(best_z, np.arange(n) * k + per_image_loss.argmin(axis=1))


def apart(g, away: Repulsion):
    """How far each row of g (a face's other fills, in a row) lies in the hole from the face's first fill and its
    other fills: the mean over them of the summed absolute difference in the hole, each value's capped at APART_CAP,
    (rows,)."""
    faces = tf.shape(away.first)[0]
    others = tf.reshape(g, tf.concat([[faces, -1], tf.shape(g)[1:]], 0))  # (faces, count, S, S, 3)
    compared = tf.concat([tf.stop_gradient(away.first)[:, None], others], axis=1)  # (faces, count + 1, ...)
    hole = away.hole[:, None, None]
    difference = tf.minimum(tf.abs(others[:, :, None] - compared[:, None]), APART_CAP)
    summed = tf.reduce_sum(difference * hole, axis=[3, 4, 5])
    count = tf.cast(tf.shape(others)[1], tf.float32)
    return tf.reshape(tf.reduce_sum(summed, axis=2) / count, [-1])  # the difference of a fill to itself is 0


class ZSearch:
    """The compiled search on z for one trained model; traces are cached per shape, so reuse it across calls."""

    def __init__(self, model: TrainedModel):
        self.model = model
        self.z_dim = model.config.z_dim
        self._networks_in = {"float32": (model.generator, model.discriminator)}  # G and D by precision
        self._networks_lock = threading.Lock()

    def networks(self, precision: str) -> tuple[keras.Model, keras.Model]:
        """G and D computing in precision: the model's own in float32; copies with the same weights otherwise, made on
        first use. Call it before a compiled function uses them: a tf.function may make variables only when first traced."""
        with self._networks_lock:
            if precision not in self._networks_in:
                copies = []
                for build, own in ((build_generator, self.model.generator),
                                   (build_discriminator, self.model.discriminator)):
                    copy = build(self.model.config, dtype=precision)
                    copy.set_weights(own.get_weights())
                    copies.append(copy)
                self._networks_in[precision] = tuple(copies)
            return self._networks_in[precision]

    def _generate(self, z, precision: str):
        """G(z) in float32, computed in precision."""
        return tf.cast(self.networks(precision)[0](z, training=False), tf.float32)

    def _losses(self, z, y, w, lam, factor: int, precision: str, away: Repulsion | None = None, diversity=0.0):
        """Total, contextual and perceptual loss per sample, and G(z). away: rows are each face's other fills, in a
        row per face; the total then rewards, by diversity, how far each lies in the hole from its face's first fill
        and from the face's other fills (apart)."""
        g = self._generate(z, precision)
        contextual = contextual_loss(g, y, w, factor)
        logit = tf.cast(self.networks(precision)[1](g, training=False), tf.float32)
        perceptual = tf.nn.softplus(-logit)[:, 0]  # -log D(G(z))
        total = contextual + lam * perceptual
        if away is not None:
            total -= diversity * apart(g, away)
        return total, contextual, perceptual, g

    def _gradient(self, z, y, w, lam, factor, precision, away=None, diversity=0.0):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = self._losses(z, y, w, lam, factor, precision, away, diversity)[0]
        return loss, tape.gradient(loss, z)

    @tf.function(reduce_retracing=True)
    def iterate(self, z, m, v, t, best_z, best_loss, y, w, n, hp, optimizer: str, factor: int, precision: str,
                away: Repulsion | None = None):
        """n optimiser steps on z; hp = hyperparameters(config); HMC's step is the learning rate. Returns the state
        (z, m, v, t) and the best z and loss of each row so far. away: the rows are other fills, pushed apart."""
        lr, beta1, beta2, momentum, lam, leapfrog, diversity = tf.unstack(hp)
        for _ in tf.range(n):
            loss, grad = self._gradient(z, y, w, lam, factor, precision, away, diversity)
            better = loss < best_loss
            best_loss = tf.where(better, loss, best_loss)
            best_z = tf.where(better[:, None], z, best_z)
            t += 1.0
            if optimizer == "adam":
                step, m, v = adam_step(grad, m, v, t, lr, beta1, beta2)
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
    def evaluate(self, z, y, w, lam, factor: int, precision: str):
        """Total, contextual and perceptual loss per sample, and G(z), compiled."""
        return self._losses(z, y, w, lam, factor, precision)

    @tf.function(reduce_retracing=True)
    def draw(self, z, precision: str):
        """G(z), compiled: the search's previews (an eager Keras call costs several times more)."""
        return self._generate(z, precision)

    @tf.function(reduce_retracing=True)
    def realism(self, images, precision: str):
        """D's logit for each image (in [-1, 1]), compiled: how the other fills to choose from are scored."""
        return tf.cast(self.networks(precision)[1](images, training=False), tf.float32)[:, 0]

    @tf.function(reduce_retracing=True)
    def fit_only(self, z, y, w, factor: int, precision: str):
        """Contextual loss alone: G forward passes only, for scoring the starting pool."""
        return contextual_loss(self._generate(z, precision), y, w, factor)

    def ranked_pool(self, y, known, w, config: CompletionConfig, factor: int,
                    size: int) -> list[tuple[np.ndarray, int | None]]:
        """Per face, a pool of max(config.init_pool, size) random z and the encoder's guess where there is one, ordered
        by how well G(z) fits the face's known pixels (forward passes only), and where the guess ranks. Every face
        ranks the same random z, so a face fills the same alone or beside others in a batch."""
        guesses = None
        if config.use_encoder and self.model.encoder is not None and factor == 1:
            guesses = self.model.encoder(encoder_input(y, known), training=False)
        random = sample_z(max(config.init_pool, size), self.z_dim, config.seed * 7919)  # a lone face's pool, as ever
        pools = []
        for face in range(len(y)):
            z = random
            if guesses is not None:
                z = tf.concat([guesses[face : face + 1], z], axis=0)
            pool = z.shape[0]
            scores = self.fit_only(z, tf.repeat(y[face : face + 1], pool, axis=0),
                                   tf.repeat(w[face : face + 1], pool, axis=0), factor, config.precision)
            order = np.argsort(scores.numpy(), kind="stable")
            pools.append((tf.gather(z, order).numpy(), None if guesses is None else int(np.flatnonzero(order == 0)[0])))
        return pools

