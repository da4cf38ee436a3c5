"""ms per DCGAN training step (1 D + 2 G updates) at batch 64: the 64 px model against the 128 px one grown
from it (with its fade-in branches, and in mixed bfloat16), and compiled against eager, in one process.

python -m benchmarks.train_step [--batch 64] [--repeats 5]
"""
from __future__ import annotations


from benchmarks.common import forward_flops, sgemm_gflops, time_call

import tensorflow as tf

from core.cli import argument_parser
from core.config import ModelConfig, TrainConfig
from core.model import DCGAN

GROWN = ModelConfig().grown()
SETUPS = {  # name -> (model, fade steps, dtype policy)
    "64 px (shipped)": (ModelConfig(), 0, "float32"),
    "128 px grown": (GROWN, 0, "float32"),
    "128 px grown, fading in": (GROWN, 1000, "float32"),
    "128 px grown, bfloat16": (GROWN, 0, "mixed_bfloat16"),
    "128 px at 2x the widths": (ModelConfig(image_size=128), 0, "float32"),
}


def step_flops(gan: DCGAN, batch: int) -> float:
    g, d = forward_flops(gan.generator), forward_flops(gan.discriminator)
    # D step: G forward, D forward+backward on real and fake; each G step: G fwd+bwd, D fwd+input-grad.
    return batch * ((g + 6 * d) + gan.train_config.g_steps * (3 * g + 2 * d))


def make_step(config: ModelConfig, fade_steps: int, policy: str, batch: int):
    """(the GAN, its train step's input)."""
    gan = DCGAN(config, TrainConfig(batch_size=batch, fade_steps=fade_steps, precision=policy))
    gan.compile()
    size = config.image_size
    return gan, (tf.random.uniform((batch, size, size, 3), -1, 1), tf.random.uniform((batch, config.z_dim), -1, 1))


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="faces per step")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per setup")
    args = parser.parse_args()

    ceiling = sgemm_gflops()
    print(f"sgemm ceiling {ceiling:.1f} GFLOP/s; batch {args.batch}")
    print(f"{'setup':26s} {'ms/step':>8s} {'x 64 px':>8s} {'GFLOP':>6s} {'GFLOP/s':>8s}")
    baseline = None
    for name, (config, fade_steps, policy) in SETUPS.items():
        gan, data = make_step(config, fade_steps, policy, args.batch)
        compiled = tf.function(gan.train_step)
        seconds = time_call(lambda: compiled(data)["g_loss"].numpy(), args.repeats)
        baseline = baseline or seconds
        flops = step_flops(gan, args.batch)
        print(f"{name:26s} {seconds * 1e3:8.0f} {seconds / baseline:8.2f} {flops / 1e9:6.0f} {flops / seconds / 1e9:8.1f}")
        if baseline == seconds:
            eager = time_call(lambda: gan.train_step(data)["g_loss"].numpy(), max(2, args.repeats // 2))
            print(f"{'  same, eager':26s} {eager * 1e3:8.0f} {eager / baseline:8.2f}")


if __name__ == "__main__":
    main()
