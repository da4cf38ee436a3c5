"""Timing helpers shared by the benchmarks: FLOP counts and the machine's sgemm ceiling."""
from __future__ import annotations

import time
from typing import Callable

import core  # noqa: F401  (sets TF_ENABLE_ONEDNN_OPTS before TensorFlow loads)
import keras
import numpy as np
import tensorflow as tf


def forward_flops(model: keras.Model) -> float:
    """Multiply-adds x 2 of one forward pass of one sample through Dense/Conv layers."""
    flops = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            flops += 2 * np.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, _ = layer.input.shape  # each input pixel scatters a full kernel
            flops += 2 * h * w * np.prod(layer.kernel.shape)
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            flops += 2 * h * w * np.prod(layer.kernel.shape)
    return float(flops)


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median seconds of fn() over repeats, after warmup calls (tracing, caches)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def sgemm_gflops(n: int = 2048) -> float:
    """Achieved GFLOP/s of a large float32 matmul: the practical ceiling of this CPU."""
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    matmul = tf.function(lambda: tf.matmul(a, b))
    return 2 * n**3 / time_call(lambda: matmul().numpy(), repeats=5) / 1e9
