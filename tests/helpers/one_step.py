"""One DCGAN training step on N logical CPU devices, with plain SGD so the update is the gradient itself
(Adam's first step is lr * sign(g): it would hide a wrong loss scale). Writes every weight to an .npz.

python tests/helpers/one_step.py INIT_WEIGHTS OUT.npz --replicas 2
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import core  # noqa: E402,F401  (TensorFlow's environment first)
from core.distribute import make_strategy  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("init", type=Path)
parser.add_argument("out", type=Path)
parser.add_argument("--replicas", type=int, default=1)
args = parser.parse_args()
strategy = make_strategy("mirrored" if args.replicas > 1 else "default", args.replicas)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from core.config import TrainConfig  # noqa: E402
from core.model import DCGAN  # noqa: E402
from core.weights import load_model  # noqa: E402

start = load_model(args.init)
config, batch = start.config, 8
with strategy.scope():
    gan = DCGAN(config, TrainConfig(batch_size=batch))
    gan.compile()
    gan.d_optimizer, gan.g_optimizer = keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
    gan.build_optimizers()
gan.generator.set_weights(start.generator.get_weights())
gan.discriminator.set_weights(start.discriminator.get_weights())
rng = np.random.default_rng(0)
faces = rng.uniform(-1, 1, (batch, config.image_size, config.image_size, 3)).astype(np.float32)
z = rng.uniform(-1, 1, (batch, config.z_dim)).astype(np.float32)
gan.fit(tf.data.Dataset.from_tensors((faces, z)).repeat(), epochs=1, steps_per_epoch=1, verbose=0)
np.savez(args.out, *[np.array(w) for w in gan.generator.weights + gan.discriminator.weights])
print(f"{strategy.num_replicas_in_sync} replica(s)")
