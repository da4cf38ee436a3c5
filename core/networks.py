"""The DCGAN's networks: generator, discriminator and completion encoder, in Keras alone.

Nothing here imports TensorFlow, so the same networks build under any Keras 3 backend: TensorFlow for the app and
core.train, JAX for core.train_jax on a GPU machine that has no TensorFlow.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras

from core.config import ModelConfig

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


class LowPass(keras.layers.Layer):
    """x + strength * (blur(x) - x), blur a separable [1, 2, 1] / 4 filter with mirrored edges (no weights)."""

    def __init__(self, strength: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.strength = strength

    def call(self, x):
        p = keras.ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
        p = (p[:, :-2] + 2 * p[:, 1:-1] + p[:, 2:]) / 4
        blurred = (p[:, :, :-2] + 2 * p[:, :, 1:-1] + p[:, :, 2:]) / 4
        return x + self.strength * (blurred - x)

    def get_config(self) -> dict:
        return {**super().get_config(), "strength": self.strength}


def build_generator(config: ModelConfig, dtype: str | None = None, synchronized: bool = False,
                    fade: bool = False) -> keras.Model:
    """G: z -> dense 4x4x(8gf) -> 5x5 stride-2 transposed convs -> tanh image in [-1, 1] (-> LowPass).

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
    if config.output_blur:
        rgb = LowPass(config.output_blur, dtype=dtype, name="g_lowpass")(rgb)
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
