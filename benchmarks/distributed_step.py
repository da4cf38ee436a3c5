"""DCGAN training steps through fit(): 1 replica against 2 (the CPU split into 2 logical devices, MirroredStrategy),
and 128 px against 64 px, all in one process so the ratios compare like with like.

python -m benchmarks.distributed_step [--batch 64] [--steps 4]
"""
from __future__ import annotations

import time

import core  # noqa: F401  (TensorFlow's environment first)
from core.cli import argument_parser
from core.distribute import make_strategy, split_cpu


def seconds_per_step(strategy, config, batch: int, steps: int) -> float:
    """Mean wall time of one fit() step on a constant global batch, after a traced warm-up."""
    import tensorflow as tf

    from core.config import TrainConfig
    from core.model import DCGAN

    with strategy.scope():
        gan = DCGAN(config, TrainConfig(batch_size=batch))
        gan.compile()
        gan.build_optimizers()
    faces = tf.random.uniform((batch, config.image_size, config.image_size, 3), -1, 1)
    data = tf.data.Dataset.from_tensors((faces, tf.random.uniform((batch, config.z_dim), -1, 1))).repeat()
    gan.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
    start = time.perf_counter()
    gan.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="global batch of faces per step")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per setup")
    args = parser.parse_args()
    split_cpu(2)  # before TensorFlow starts: both runs below share the same two logical devices
    import tensorflow as tf

    from core.config import ModelConfig

    one = seconds_per_step(tf.distribute.get_strategy(), ModelConfig(), args.batch, args.steps)
    two = seconds_per_step(make_strategy("mirrored"), ModelConfig(), args.batch, args.steps)
    big = seconds_per_step(tf.distribute.get_strategy(), ModelConfig(image_size=128), args.batch, args.steps)
    print(f"64 px, 1 replica            {one * 1e3:8.0f} ms/step  {args.batch / one:7.1f} examples/s")
    print(f"64 px, 2 replicas (mirrored){two * 1e3:8.0f} ms/step  {args.batch / two:7.1f} examples/s  "
          f"({one / two:.2f}x the speed of 1 replica)")
    print(f"128 px, 1 replica           {big * 1e3:8.0f} ms/step  {args.batch / big:7.1f} examples/s  "
          f"({big / one:.2f}x the time of 64 px)")


if __name__ == "__main__":
    main()
