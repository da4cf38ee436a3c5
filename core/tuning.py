"""Fine-tuning G on one face: G' fits the face's known pixels more closely than any G(z) can.

After the search finds z^, a few Adam steps on a copy of G's weights (batch norm in inference mode) fit the known
pixels from z^, and G'(z^) fills the hole. Pivotal tuning (Roich et al. 2022) is the same step on a whole face: G'
keeps the person's likeness at z and, close to z, still moves along G's directions, so an edited z' gives this person
edited, not a stranger. A tuned G' is kept as float16 offsets from G's weights: small, and cheap to hold per user.

Tuning stays in float32 even where the search runs in bfloat16: its small steps would be lost in bfloat16's
8-bit mantissa. Its Adam update is TensorFlow's fused kernel (ResourceApplyAdam), the same update as Keras' Adam in one
op per weight instead of about ten, which on 2 cores competed with G's gradients for the cores (the tuning takes 0.88x
the time; docs/performance.md). There is one copy of G to tune; completions running at once take turns on it
(GTuner.lock).
"""
from __future__ import annotations

import threading

import keras
import numpy as np
import tensorflow as tf

from core.config import CompletionConfig
from core.search import contextual_loss
from core.weights import TrainedModel

BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7  # Adam's, as Keras sets them by default

Offsets = list[np.ndarray]  # a tuned G's weights minus G's own, float16, in G's weights' order


class GTuner:
    """Fine-tunes a copy of one model's G to one face at a time, and draws with a tuned G'."""

    def __init__(self, model: TrainedModel):
        self.generator = model.generator
        self._copy: keras.Model | None = None
        self._moments: list[tuple[tf.Variable, tf.Variable]] | None = None
        self.lock = threading.Lock()  # held while the copy is reset, tuned or drawn with

    def copy(self) -> keras.Model:
        """The one copy of G that tuning may change, made on first use."""
        if self._copy is None:
            self._copy = keras.models.clone_model(self.generator)
        return self._copy

    def moments(self) -> list[tuple[tf.Variable, tf.Variable]]:
        """Adam's first and second moments for each trainable weight of the copy, made on first use."""
        if self._moments is None:
            self._moments = [(tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v)))
                             for v in self.copy().trainable_variables]
        return self._moments

    @tf.function(reduce_retracing=True)
    def steps(self, z, y, w, n, learning_rate, factor: int):
        """n Adam steps (Kingma and Ba, Keras' defaults) on the copy's weights to fit y's known pixels (w) from z,
        moments starting at zero; returns the copy's G'(z)."""
        variables = self._copy.trainable_variables
        for step in tf.range(1, n + 1):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(contextual_loss(self._copy(z, training=False), y, w, factor))
            t = tf.cast(step, tf.float32)
            for variable, (m, v), grad in zip(variables, self._moments, tape.gradient(loss, variables)):
                tf.raw_ops.ResourceApplyAdam(
                    var=variable.value.handle, m=m.handle, v=v.handle, beta1_power=BETA_1**t, beta2_power=BETA_2**t,
                    lr=learning_rate, beta1=BETA_1, beta2=BETA_2, epsilon=EPSILON, grad=grad)
        return self._copy(z, training=False)

    def fit(self, z: tf.Tensor, y: tf.Tensor, w: tf.Tensor, config: CompletionConfig, factor: int) -> tf.Tensor:
        """Reset the copy to G and tune it on one image (config.tune_steps steps); returns G'(z). Hold the lock."""
        for copy, original in zip(self.copy().weights, self.generator.weights):
            copy.assign(original)
        for m, v in self.moments():
            m.assign(tf.zeros_like(m))
            v.assign(tf.zeros_like(v))
        return self.steps(z, y, w, tf.constant(config.tune_steps), tf.constant(config.tune_learning_rate, tf.float32),
                          factor)

    def offsets(self) -> Offsets:
        """The copy's weights as float16 offsets from G's own. Hold the lock."""
        return [(np.array(tuned) - np.array(own)).astype(np.float16)
                for tuned, own in zip(self.copy().weights, self.generator.weights)]

    def tuned_generate(self, z: tf.Tensor, y: tf.Tensor, w: tf.Tensor, config: CompletionConfig, factor: int,
                       keep: bool = False) -> tuple[np.ndarray, list[Offsets] | None]:
        """G'(z) per image, where G' is G tuned on that image alone, and with keep, each image's G' as offsets."""
        drawn, offsets = [], []
        with self.lock:
            for i in range(len(z)):
                drawn.append(self.fit(z[i : i + 1], y[i : i + 1], w[i : i + 1], config, factor).numpy())
                if keep:
                    offsets.append(self.offsets())
        return np.concatenate(drawn, axis=0), offsets if keep else None

    def generate_with(self, offsets: Offsets | None, z: np.ndarray) -> np.ndarray:
        """G(z) in [-1, 1] drawn with G's weights plus these offsets, or by G itself when None."""
        z = tf.constant(np.asarray(z, np.float32))
        if offsets is None:
            return self.generator(z, training=False).numpy()
        with self.lock:
            tuned = self.copy()
            for variable, own, offset in zip(tuned.weights, self.generator.weights, offsets):
                variable.assign(own + offset.astype(np.float32))
            return tuned(z, training=False).numpy()
