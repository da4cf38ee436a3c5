"""The DCGAN of Radford et al.: generator, discriminator and their training step."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras
import tensorflow as tf

from core.config import ModelConfig, TrainConfig

# DCGAN-tensorflow's batch norm settings (Keras defaults are 0.99 / 1e-3).
_BN = dict(momentum=0.9, epsilon=1e-5)


@contextmanager
def dtype_policy(policy: str) -> Iterator[None]:
    """Layers made inside compute with this Keras dtype policy (e.g. "mixed_bfloat16")."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class Fade(keras.layers.Layer):
    """(1 - alpha) * old + alpha * new: a layer fading in while a model grows (Karras et al. 2018).

    alpha is a weight (not trained), so it is checkpointed with the model; DCGAN.set_fade moves it."""

    def build(self, input_shape) -> None:
        self.alpha = self.add_weight(shape=(), initializer="zeros", trainable=False, name="alpha")

    def call(self, inputs):
        old, new = inputs
        return old + keras.ops.cast(self.alpha, old.dtype) * (new - old)


def build_generator(config: ModelConfig, dtype: str | None = None, synchronized: bool = False,
                    fade: bool = False) -> keras.Model:
    """G: z -> dense 4x4x(8gf) -> 5x5 stride-2 transposed convs -> tanh image in [-1, 1].

    Layers are named by the resolution they make (g_conv32, g_bn32, g_rgb64), so a G of twice the size with
    half of gf holds every layer of the smaller one but its last (toRGB), under the same names.
    synchronized: batch norm takes its statistics over the global batch of all replicas (tf.distribute).
    fade: also draw the half-size image with the smaller G's toRGB (g_rgbN/2), enlarged, and fade
    from it to the new top block (layer "fade").
    """
    n = config.n_scales
    width = config.gf * 2 ** (n - 1)
    bn = dict(**_BN, synchronized=synchronized, dtype=dtype)
    z = keras.Input((config.z_dim,), name="z")
    x = keras.layers.Dense(4 * 4 * width, use_bias=False, dtype=dtype, name="g_dense")(z)
    x = keras.layers.Reshape((4, 4, width))(x)
    x = keras.layers.BatchNormalization(**bn, name="g_bn4")(x)
    x = keras.layers.ReLU()(x)
    below_top = x
    for i in range(1, n):
        size = 4 << i
        below_top = x
        x = keras.layers.Conv2DTranspose(width >> i, 5, 2, "same", use_bias=False, dtype=dtype, name=f"g_conv{size}")(x)
        x = keras.layers.BatchNormalization(**bn, name=f"g_bn{size}")(x)
        x = keras.layers.ReLU()(x)
    rgb = keras.layers.Conv2DTranspose(3, 5, 2, "same", activation="tanh", dtype=dtype,
                                       name=f"g_rgb{config.image_size}")(x)
    if fade:
        half = config.image_size // 2
        old = keras.layers.Conv2DTranspose(3, 5, 2, "same", activation="tanh", dtype=dtype,
                                           name=f"g_rgb{half}")(below_top)
        old = keras.layers.UpSampling2D(2, interpolation="bilinear", dtype=dtype)(old)
        rgb = Fade(dtype=dtype, name="fade")([old, rgb])
    return keras.Model(z, rgb, name="generator")


def _normalised(layer: keras.layers.Layer, spectral_norm: bool) -> keras.layers.Layer:
    """layer, or layer wrapped in spectral normalisation under its name (so copy_layers finds it)."""
    if not spectral_norm:
        return layer
    return keras.layers.SpectralNormalization(layer, dtype=layer.dtype_policy, name=layer.name)


def unwrapped(layer: keras.layers.Layer) -> keras.layers.Layer:
    """The layer that holds the weights: a spectrally normalised layer's own layer (its kernel is kept
    normalised while training), so a D trained with spectral norm exports and loads as a plain D."""
    return layer.layer if isinstance(layer, keras.layers.SpectralNormalization) else layer


def _strided_convs(x, config: ModelConfig, dtype: str | None = None, synchronized: bool = False,
                   prefix: str = "d_", fade: bool = False, spectral_norm: bool = False):
    """5x5 stride-2 convs df, 2df, ... with leaky ReLU 0.2 (batch norm after the first), flattened.

    Named by the resolution they read ({prefix}rgb64, {prefix}conv32, {prefix}bn32). fade: the half-size
    image (average-pooled) also goes through the smaller model's first conv ({prefix}rgbN/2), and the
    result fades to that of the two new convs (layer "fade"). spectral_norm: every conv is normalised."""
    image = x
    size = config.image_size
    for i in range(config.n_scales):
        name = f"{prefix}rgb{size}" if i == 0 else f"{prefix}conv{size}"
        conv = keras.layers.Conv2D(config.df << i, 5, 2, "same", use_bias=i == 0, dtype=dtype, name=name)
        x = _normalised(conv, spectral_norm)(x)
        if i > 0:
            x = keras.layers.BatchNormalization(**_BN, synchronized=synchronized, dtype=dtype,
                                                name=f"{prefix}bn{size}")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        if fade and i == 1:
            old = keras.layers.AveragePooling2D(2, dtype=dtype)(image)
            conv = keras.layers.Conv2D(config.df << 1, 5, 2, "same", dtype=dtype, name=f"{prefix}rgb{size}")
            old = _normalised(conv, spectral_norm)(old)
            old = keras.layers.LeakyReLU(0.2)(old)
            x = Fade(dtype=dtype, name="fade")([old, x])
        size //= 2
    return keras.layers.Flatten()(x)


def build_discriminator(config: ModelConfig, dtype: str | None = None, synchronized: bool = False,
                        fade: bool = False, spectral_norm: bool = False) -> keras.Model:
    """D: strided convs -> one logit. fade, spectral_norm: see _strided_convs (the logit is normalised too)."""
    image = keras.Input((config.image_size, config.image_size, 3), name="image")
    features = _strided_convs(image, config, dtype, synchronized, fade=fade, spectral_norm=spectral_norm)
    logit = _normalised(keras.layers.Dense(1, dtype=dtype, name="d_logit"), spectral_norm)(features)
    return keras.Model(image, logit, name="discriminator")


def build_encoder(config: ModelConfig, dtype: str | None = None) -> keras.Model:
    """E: (face with the hole zeroed, known-pixel mask) -> z in [-1, 1]; D's conv stack with a tanh head."""
    inputs = keras.Input((config.image_size, config.image_size, 4), name="masked_face")
    z = keras.layers.Dense(config.z_dim, activation="tanh", dtype=dtype, name="e_z")(
        _strided_convs(inputs, config, dtype, prefix="e_"))
    return keras.Model(inputs, z, name="encoder")


def copy_layers(source: keras.Model, target: keras.Model) -> list[str]:
    """Copy the weights of every layer of target that source has under the same name and shapes;
    returns the names of target's layers with weights that were not copied (new, or of another shape).
    A spectrally normalised layer copies to and from a plain one (its power iteration starts afresh)."""
    new = []
    for wrapper in target.layers:
        layer = unwrapped(wrapper)
        if not layer.weights:
            continue
        try:
            weights = unwrapped(source.get_layer(wrapper.name)).get_weights()
        except ValueError:
            new.append(layer.name)
            continue
        if [w.shape for w in weights] != [tuple(w.shape) for w in layer.weights]:
            new.append(layer.name)
            continue
        layer.set_weights(weights)
    return new


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
