"""The DCGAN of Radford et al.: G and D (core.networks) in one keras.Model with their training step."""
from __future__ import annotations

import keras
import tensorflow as tf

from core.config import ModelConfig, TrainConfig
from core.networks import build_discriminator, build_encoder, build_generator, copy_layers, dtype_policy

__all__ = ["DCGAN", "build_discriminator", "build_encoder", "build_generator", "copy_layers", "sample_z"]


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
        fade = self.train_config.fade_steps > 0
        with dtype_policy(self.train_config.precision):
            self.generator = build_generator(config, synchronized=synchronized, fade=fade)
            self.discriminator = build_discriminator(config, synchronized=synchronized, fade=fade,
                                                     spectral_norm=self.train_config.spectral_norm)
        self.ema_generator = build_generator(config, fade=fade)  # the average of G's weights: what a run exports
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
        self.d_optimizer = keras.optimizers.Adam(t.d_learning_rate, beta_1=t.beta1)
        self.g_optimizer = keras.optimizers.Adam(t.learning_rate, beta_1=t.beta1)

    def build_optimizers(self) -> None:
        """Create optimizer slots now, so a checkpoint's optimizer state can be loaded."""
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def reset_ema(self) -> None:
        """Start the moving average at G's current weights."""
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(weight)

    def update_ema(self, step: int, warm_up: bool = True) -> None:
        """One step of the moving average of G's weights (batch norm statistics included); warm_up: with
        TrainConfig.ema_decay's warm-up, for a G that starts untrained."""
        decay = self.train_config.ema_decay
        if warm_up:
            decay = min(decay, (1 + step) / (10 + step))
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1 - decay) * weight)

    @property
    def exported_generator(self) -> keras.Model:
        """The G a run samples from: the moving average, or G itself with ema_decay 0."""
        return self.ema_generator if self.train_config.ema_decay else self.generator

    def set_fade(self, step: int) -> None:
        """Move the new blocks' fade-in to step's point (alpha from 0 to 1 over fade_steps)."""
        if self.train_config.fade_steps:
            alpha = min(1.0, step / self.train_config.fade_steps)
            for model in (self.generator, self.ema_generator, self.discriminator):
                model.get_layer("fade").alpha.assign(alpha)

    def exported_networks(self) -> tuple[keras.Model, keras.Model]:
        """(G, D) as the app loads them: the exported G and a plain D, without the fade's old branches (a run
        publishes them once the fade is over; before, they draw the new blocks at full weight) or spectral norm."""
        generator, discriminator = self.exported_generator, self.discriminator
        if not (self.train_config.fade_steps or self.train_config.spectral_norm):
            return generator, discriminator
        plain_generator, plain_discriminator = build_generator(self.config), build_discriminator(self.config)
        copy_layers(generator, plain_generator)
        copy_layers(discriminator, plain_discriminator)
        return plain_generator, plain_discriminator

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
        real_labels = ones * (1.0 - self.train_config.label_smoothing)
        # Under tf.distribute a Keras loss is this replica's mean divided by the number of replicas, and
        # the optimiser sums gradients over replicas: the global batch's mean loss. Logged losses are unscaled.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            with tf.GradientTape() as slope_tape:
                slope_tape.watch(real)
                real_logits = self.discriminator(real, training=True)
            d_loss_real = self.bce(real_labels, real_logits)
            d_loss_fake = self.bce(zeros, self.discriminator(fake, training=True))
            d_loss = d_loss_real + d_loss_fake
            if self.train_config.r1_gamma:
                slopes = slope_tape.gradient(real_logits, real)
                r1 = self.train_config.r1_gamma / 2 * tf.reduce_mean(tf.reduce_sum(tf.square(slopes), [1, 2, 3]))
                d_loss += r1 / replicas
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
