"""The DCGAN of Radford et al.: generator, discriminator and their training step."""
from __future__ import annotations

import keras
import tensorflow as tf

from core.config import ModelConfig, TrainConfig

# DCGAN-tensorflow's batch norm settings (Keras defaults are 0.99 / 1e-3).
_BN = dict(momentum=0.9, epsilon=1e-5)


def build_generator(config: ModelConfig, dtype: str | None = None, synchronized: bool = False) -> keras.Model:
    """G: z -> dense 4x4x(8gf) -> 5x5 stride-2 transposed convs -> tanh image in [-1, 1].

    synchronized: batch norm takes its statistics over the global batch of all replicas (tf.distribute).
    """
    n = config.n_scales
    width = config.gf * 2 ** (n - 1)
    z = keras.Input((config.z_dim,), name="z")
    x = keras.layers.Dense(4 * 4 * width, use_bias=False, dtype=dtype)(z)
    x = keras.layers.Reshape((4, 4, width))(x)
    x = keras.layers.BatchNormalization(**_BN, synchronized=synchronized, dtype=dtype)(x)
    x = keras.layers.ReLU()(x)
    for i in range(1, n):
        x = keras.layers.Conv2DTranspose(width >> i, 5, 2, "same", use_bias=False, dtype=dtype)(x)
        x = keras.layers.BatchNormalization(**_BN, synchronized=synchronized, dtype=dtype)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2DTranspose(3, 5, 2, "same", activation="tanh", dtype=dtype)(x)
    return keras.Model(z, x, name="generator")


def _strided_convs(x, config: ModelConfig, dtype: str | None = None, synchronized: bool = False):
    """5x5 stride-2 convs df, 2df, ... with leaky ReLU 0.2 (batch norm after the first), flattened."""
    for i in range(config.n_scales):
        x = keras.layers.Conv2D(config.df << i, 5, 2, "same", use_bias=i == 0, dtype=dtype)(x)
        if i > 0:
            x = keras.layers.BatchNormalization(**_BN, synchronized=synchronized, dtype=dtype)(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    return keras.layers.Flatten()(x)


def build_discriminator(config: ModelConfig, dtype: str | None = None, synchronized: bool = False) -> keras.Model:
    """D: strided convs -> one logit."""
    image = keras.Input((config.image_size, config.image_size, 3), name="image")
    logit = keras.layers.Dense(1, dtype=dtype)(_strided_convs(image, config, dtype, synchronized))
    return keras.Model(image, logit, name="discriminator")


def build_encoder(config: ModelConfig, dtype: str | None = None) -> keras.Model:
    """E: (face with the hole zeroed, known-pixel mask) -> z in [-1, 1]; D's conv stack with a tanh head."""
    inputs = keras.Input((config.image_size, config.image_size, 4), name="masked_face")
    z = keras.layers.Dense(config.z_dim, activation="tanh", dtype=dtype)(_strided_convs(inputs, config, dtype))
    return keras.Model(inputs, z, name="encoder")


def sample_z(n: int, z_dim: int, seed: int | None = None) -> tf.Tensor:
    """z ~ U[-1, 1]^z_dim, reproducible when seeded."""
    if seed is None:
        return tf.random.uniform((n, z_dim), -1.0, 1.0)
    return tf.random.stateless_uniform((n, z_dim), (seed, 0), -1.0, 1.0)


class DCGAN(keras.Model):
    """G and D in one model whose train_step does one D update and g_steps G updates.

    Being a keras.Model, fit() brings the progress bar and callbacks. Built inside a
    tf.distribute strategy's scope, the same fit() trains on every replica: each gets its share
    of the global batch (faces and their z come together from the input pipeline), batch norm
    is synchronised across replicas, and the summed gradients are those of the global batch's
    mean loss.
    """

    def __init__(self, config: ModelConfig, train: TrainConfig | None = None, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.train_config = train or TrainConfig()
        synchronized = tf.distribute.get_strategy().num_replicas_in_sync > 1
        self.generator = build_generator(config, synchronized=synchronized)
        self.discriminator = build_discriminator(config, synchronized=synchronized)
        self.ema_generator = build_generator(config)  # the average of G's weights: what a run exports
        self.ema_generator.trainable = False
        self.reset_ema()
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("d_loss_real", "d_loss_fake", "g_loss")
        }
        self.built = True  # G and D are functional models, already built

    def compile(self, **kwargs) -> None:
        t = self.train_config
        super().compile(**kwargs)
        self.d_optimizer = keras.optimizers.Adam(t.learning_rate, beta_1=t.beta1)
        self.g_optimizer = keras.optimizers.Adam(t.learning_rate, beta_1=t.beta1)

    def build_optimizers(self) -> None:
        """Create optimizer slots now, so a checkpoint's optimizer state can be loaded."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def reset_ema(self) -> None:
        """Start the moving average at G's current weights."""
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(weight)

    def update_ema(self, step: int) -> None:
        """One step of the moving average of G's weights (batch norm statistics included)."""
        decay = min(self.train_config.ema_decay, (1 + step) / (10 + step))
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1 - decay) * weight)

    @property
    def exported_generator(self) -> keras.Model:
        """The G a run publishes and samples from: the moving average, or G itself with ema_decay 0."""
        return self.ema_generator if self.train_config.ema_decay else self.generator

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def _maybe_symbolic_build(self, iterator=None, data_batch=None) -> None:
        """Nothing to build: G and D are built when made. Keras's build here averages a batch across
        workers, which fails under MultiWorkerMirroredStrategy (Keras 3.15: PerReplica to Tensor)."""

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def train_step(self, data):
        """data: (real faces, their z), this replica's share of the global batch."""
        real, z = data
        batch = tf.shape(real)[0]
        ones, zeros = tf.ones((batch, 1)), tf.zeros((batch, 1))
        # Under tf.distribute a Keras loss is this replica's mean divided by the number of replicas, and
        # the optimiser sums gradients over replicas: the global batch's mean loss. Logged losses are unscaled.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            d_loss_real = self.bce(ones, self.discriminator(real, training=True))
            d_loss_fake = self.bce(zeros, self.discriminator(fake, training=True))
            d_loss = d_loss_real + d_loss_fake
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))

        g_vars = self.generator.trainable_variables
        for _ in range(self.train_config.g_steps):
            with tf.GradientTape() as tape:
                g_loss = self.bce(ones, self.discriminator(self.generator(z, training=True), training=True))
            self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))

        for name, value in (("d_loss_real", d_loss_real), ("d_loss_fake", d_loss_fake), ("g_loss", g_loss)):
            self.trackers[name].update_state(value * replicas)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3.15 averages multi-worker step outputs along axis 0, which a scalar does not have.
            results = {name: value[None] for name, value in results.items()}
        return results
