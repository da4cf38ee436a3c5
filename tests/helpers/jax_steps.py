"""Run in a process of its own (Keras on JAX): the steps tests/test_train_jax.py also runs on TensorFlow.

python tests/helpers/jax_steps.py WEIGHTS BATCHES.npz OUT_FOLDER R1_GAMMA [R1_GAMMA ...]

Writes OUT_FOLDER/jax-R1_GAMMA.npz for each R1_GAMMA: one process, so JAX starts once for all of them.
"""
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import numpy as np  # noqa: E402

from core.config import TrainConfig  # noqa: E402
from core.train_jax import JaxGAN  # noqa: E402
from core.weights import read_model_json  # noqa: E402

weights, batches, out = sys.argv[1], np.load(sys.argv[2]), sys.argv[3]
for r1_gamma in sys.argv[4:]:
    gan = JaxGAN(read_model_json(weights)["config"],
                 TrainConfig(batch_size=len(batches["z"][0]), r1_gamma=float(r1_gamma)))
    gan.start_from(weights)
    state, losses = gan.state(), []
    for real, z in zip(batches["real"], batches["z"]):
        state, step_losses = gan.train_step(state, real, z)
        losses.append([float(step_losses[k]) for k in ("d_loss_real", "d_loss_fake", "g_loss")])
    gan.assign(state)
    arrays = {"losses": np.array(losses)}
    for name, model in (("g", gan.generator), ("d", gan.discriminator), ("ema", gan.ema_generator)):
        for i, w in enumerate(model.get_weights()):
            arrays[f"{name}_{i}"] = w
    np.savez(os.path.join(out, f"jax-{r1_gamma}.npz"), **arrays)
