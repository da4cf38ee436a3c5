"""ms per DCGAN training step (1 D + 2 G updates) at batch 64: compiled vs eager.

python -m benchmarks.train_step [--batch 64] [--repeats 5]
"""
from __future__ import annotations

import argparse

from benchmarks.common import forward_flops, sgemm_gflops, time_call

import tensorflow as tf

from core.config import ModelConfig, TrainConfig
from core.model import DCGAN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    gan = DCGAN(ModelConfig(), TrainConfig(batch_size=args.batch))
    gan.compile()
    data = tf.random.uniform((args.batch, 64, 64, 3), -1, 1), tf.random.uniform((args.batch, 100), -1, 1)  # faces, z
    compiled = tf.function(gan.train_step)
    g, d = forward_flops(gan.generator), forward_flops(gan.discriminator)
    # D step: G forward, D forward+backward on real and fake; each G step: G fwd+bwd, D fwd+input-grad.
    flops = args.batch * ((g + 6 * d) + TrainConfig().g_steps * (3 * g + 2 * d))

    ceiling = sgemm_gflops()
    t_compiled = time_call(lambda: compiled(data)["g_loss"].numpy(), args.repeats)
    t_eager = time_call(lambda: gan.train_step(data)["g_loss"].numpy(), max(2, args.repeats // 2))
    achieved = flops / t_compiled / 1e9
    print(f"sgemm ceiling            {ceiling:8.1f} GFLOP/s")
    print(f"train step, tf.function  {t_compiled * 1e3:8.0f} ms  ({achieved:.1f} GFLOP/s, {achieved / ceiling:.0%} of ceiling)")
    print(f"train step, eager        {t_eager * 1e3:8.0f} ms")
    print(f"speed-up over eager      {t_eager / t_compiled:8.2f}x   (batch {args.batch}, {flops / 1e9:.0f} GFLOP/step)")


if __name__ == "__main__":
    main()
