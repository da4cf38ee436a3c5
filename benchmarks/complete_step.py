"""ms per completion step (G forward, D forward, gradient to z, Adam) at several batch sizes.

python -m benchmarks.complete_step [--weights weights] [--batches 1 8 32] [--others weights-64]

Prints achieved GFLOP/s against this CPU's sgemm ceiling, the speed-up over the
same loop run eagerly and the step in the defaults' precision (bfloat16 where the CPU computes it natively) as a
ratio to float32's, and the seconds to complete one face with each named setting
(core.config.COMPLETION_PRESETS on the model's own defaults: the defaults, 25 fine-tuning steps, the earlier
"thorough" ones and the defaults in float32), without the
defaults' fine-tuning and blending stages, and four fills of it to choose from, as ratios to
the defaults; then one fill with each of --others (models of other sizes, each with its own defaults), as ratios to --weights'.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from benchmarks.common import forward_flops, sgemm_gflops, time_call

import numpy as np
import tensorflow as tf

from core.cli import argument_parser
from core.face_filler import FaceFiller
from core.search import ZSearch, contextual_weights, hyperparameters
from core.config import COMPLETION_PRESETS, CompletionConfig, ModelConfig, completion_preset
from core.images import to_uint8
from core.masks import center_mask
from core.model import build_discriminator, build_generator, sample_z
from core.inpaint import FillRequest, complete_faces
from core.weights import TrainedModel, WeightsError, load_model

STEPS = 20
FILLS = 4  # the Inpaint page's fills to choose from


def step_timer(filler: FaceFiller, batch: int, eager: bool = False, precision: str = "float32"):
    """A function running STEPS Adam steps on a batch of center-masked faces, G and D computing in precision."""
    size = filler.size
    z = sample_z(batch, filler.z_dim, 0)
    y = filler.generator(sample_z(batch, filler.z_dim, 1), training=False)
    w = tf.constant(np.repeat(contextual_weights(center_mask(size))[None], batch, 0))
    hp = hyperparameters(CompletionConfig())
    zeros, inf = tf.zeros_like(z), tf.fill([batch], np.float32(np.inf))
    search = filler.search
    iterate = ZSearch.iterate.python_function.__get__(search) if eager else search.iterate
    search.networks(precision)
    args = (z, zeros, zeros, tf.constant(0.0), z, inf, y, w, tf.constant(STEPS), hp, "adam", 1, precision, None)
    return lambda: iterate(*args)[0].numpy()


def model_or_untrained(folder: Path) -> TrainedModel:
    """The model in folder, or an untrained one of the default shape when the folder has none."""
    try:
        return load_model(folder)
    except WeightsError:
        config = ModelConfig()
        print(f"(no weights in {folder}: timing an untrained model of the same shape)")
        return TrainedModel(config, build_generator(config), build_discriminator(config))


def one_fill_seconds(filler: FaceFiller, config: CompletionConfig, fills: int = 1) -> float:
    """Median seconds to make fills fills of one face (G's own sample, centre hole) with config, after a first call
    that traces."""
    face = to_uint8(filler.generator(sample_z(1, filler.z_dim, 7), training=False).numpy())
    request = FillRequest(face[0], center_mask(filler.size))
    return time_call(lambda: complete_faces(filler, [request], config, fills), repeats=5)


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=Path("weights"), help="model folder")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32], help="faces completed at once")
    parser.add_argument("--others", type=Path, nargs="*", default=[],
                        help="other model folders (e.g. of another size): one fill with each, against --weights'")
    args = parser.parse_args()
    model = model_or_untrained(args.weights)

    filler = FaceFiller(model)
    # Per sample and step: G and D forward, then gradients back to the input through both (about 1x forward each).
    flops = 2 * (forward_flops(model.generator) + forward_flops(model.discriminator))
    ceiling = sgemm_gflops()
    print(f"sgemm ceiling {ceiling:.1f} GFLOP/s; {flops / 1e9:.2f} GFLOP per sample and step")
    defaults = model.completion  # CompletionConfig's, with what the model's card sets
    print(f"{'batch':>5} {'ms/step':>9} {'GFLOP/s':>8} {'of ceiling':>10} {'eager ms':>9} {'speed-up':>8}"
          f"  {defaults.precision} ms (x float32)")
    for batch in args.batches:
        compiled = time_call(step_timer(filler, batch), repeats=3) / STEPS
        eager = time_call(step_timer(filler, batch, eager=True), repeats=1, warmup=0) / STEPS
        own = time_call(step_timer(filler, batch, precision=defaults.precision), repeats=3) / STEPS
        achieved = batch * flops / compiled / 1e9
        print(f"{batch:5d} {compiled * 1e3:9.1f} {achieved:8.1f} {achieved / ceiling:10.0%} {eager * 1e3:9.1f} "
              f"{eager / compiled:7.1f}x  {own * 1e3:.1f} ({own / compiled:.2f}x)")

    stages = {
        **{f"{name!r} settings": completion_preset(name, defaults) for name in COMPLETION_PRESETS},
        "defaults without fine-tuning G": replace(defaults, tune_steps=0),
        "defaults without tuning or blending": replace(defaults, tune_steps=0, blend=False),
    }
    print(f"one face, defaults ({defaults.iterations} iterations, pool {defaults.init_pool}, "
          f"{defaults.tune_steps} fine-tuning steps, blend {defaults.blend}):")
    baseline = None
    for name, config in stages.items():  # the first is the defaults
        seconds = one_fill_seconds(filler, config)
        baseline = baseline or seconds
        print(f"  {name:<36} {seconds:.2f} s  ({seconds / baseline:.2f}x the defaults)")
    seconds = one_fill_seconds(filler, defaults, FILLS)
    print(f"  {f'{FILLS} fills to choose from':<36} {seconds:.2f} s  ({seconds / baseline:.2f}x the defaults)")
    for folder in args.others:
        other = model_or_untrained(folder)
        seconds = one_fill_seconds(FaceFiller(other), other.completion)
        print(f"one face with {folder} ({other.config.image_size} px), defaults: {seconds:.2f} s ({seconds / baseline:.2f}x "
              f"{args.weights}'s, {model.config.image_size} px)")


if __name__ == "__main__":
    main()
