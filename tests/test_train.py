from dataclasses import replace

import keras
import numpy as np
import pytest
from PIL import Image

from core.config import TrainConfig
from core.data import face_dataset, list_images
from core.train import CHECKPOINT, RunExistsError, read_checkpoint_state, read_metrics, train
from core.weights import load_model
from tests.helpers.cli import run_cli

STEPS = dict(batch_size=4, log_every=1, sample_every=1, checkpoint_every=1, steps=3)


def test_dataset_batches_in_range(synthetic_faces):
    paths, skipped = list_images(synthetic_faces)
    assert len(paths) == 12 and skipped == 1
    batch = next(iter(face_dataset(paths, 16, 4)))
    assert batch.shape == (4, 16, 16, 3)
    assert -1 <= batch.numpy().min() and batch.numpy().max() <= 1


def test_empty_or_missing_folder_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "missing")
    (tmp_path / "only.txt").write_text("x")
    with pytest.raises(ValueError, match="no readable images"):
        list_images(tmp_path)


def test_train_writes_run_and_resumes(synthetic_faces, tmp_path, tiny_config):
    run = tmp_path / "run"
    train(synthetic_faces, run, tiny_config, TrainConfig(**STEPS), verbose=0)
    assert read_checkpoint_state(run)["step"] == 3
    assert sorted(p.name for p in (run / "samples").iterdir()) == [f"step_00000{i}.png" for i in (1, 2, 3)]
    first, last = (np.asarray(Image.open(run / "samples" / f"step_00000{i}.png")) for i in (1, 3))
    assert first.shape == (16 * 8, 16 * 8, 3)
    assert not np.array_equal(first, last)  # G really learns (no stale cached weights)
    assert [row["step"] for row in read_metrics(run)] == [1, 2, 3]
    assert all(np.isfinite(row["g_loss"]) for row in read_metrics(run))
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    model = load_model(run / "model")
    assert model.card["steps"] == 3 and model.card["images"] == 12

    with pytest.raises(RunExistsError):
        train(synthetic_faces, run, tiny_config, TrainConfig(**STEPS), verbose=0)

    gan = train(synthetic_faces, run, tiny_config, TrainConfig(**{**STEPS, "steps": 5}), resume=True, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 5
    assert int(gan.g_optimizer.iterations.numpy()) == 10  # two G updates per D update
    assert [row["step"] for row in read_metrics(run)] == [1, 2, 3, 4, 5]
    assert read_checkpoint_state(run)["step"] == 5
    assert load_model(run / "model").card["steps"] == 5


def test_resume_drops_metrics_after_the_checkpoint(synthetic_faces, tmp_path, tiny_config):
    run = tmp_path / "run"
    train(synthetic_faces, run, tiny_config, TrainConfig(**STEPS), verbose=0)
    # A kill after step 4's metrics row (half written, too) but before its checkpoint, and mid-write leftovers.
    with open(run / "metrics.csv", "a") as f:
        f.write("4,0.5,0.5,0.5,9.0\n5,0.4")
    (run / ".checkpoint.weights.h5.123.tmp.weights.h5").write_bytes(b"half")
    train(synthetic_faces, run, tiny_config, TrainConfig(**{**STEPS, "steps": 5}), resume=True, verbose=0)
    assert [row["step"] for row in read_metrics(run)] == [1, 2, 3, 4, 5]
    assert read_metrics(run)[3]["seconds"] != 9.0  # the stale row was replaced, not kept
    assert not list(run.glob(".*"))
    assert (run / CHECKPOINT).is_file()


def test_a_new_run_can_start_from_published_weights(synthetic_faces, tmp_path, tiny_config, tiny_weights, tiny_model):
    from core.model import build_generator

    run = tmp_path / "run"
    gan = train(synthetic_faces, run, tiny_config, TrainConfig(**{**STEPS, "steps": 1}), verbose=0, init_from=tiny_weights)
    model = load_model(run / "model")
    assert model.card["initialised_from"] == str(tiny_weights)
    assert model.card["steps"] == 1  # the tiny weights' card says 0 steps, plus 1 here
    # Started from the published G: one Adam step (lr 2e-4) away from it, while a fresh G is far.
    published = tiny_model.generator.get_weights()[0]
    assert np.abs(gan.generator.get_weights()[0] - published).max() < 1e-3
    assert np.abs(build_generator(tiny_config).get_weights()[0] - published).max() > 1e-2


@pytest.mark.parametrize("done, steps, every, expected", [
    (0, 6, 2, [(2, 3)]), (0, 5, 2, [(2, 2), (1, 1)]), (5, 10, 2, [(1, 1), (2, 2)]), (3, 4, 2, [(1, 1)]),
    (0, 1, 50, [(1, 1)]), (4, 4, 2, []),
])
def test_fit_segments_train_exactly_the_steps_asked(done, steps, every, expected):
    from core.train import fit_segments

    segments = fit_segments(done, steps, every)
    assert segments == expected and done + sum(a * b for a, b in segments) == steps


def test_steps_not_a_multiple_of_log_every_train_exactly_and_checkpoint_at_the_end(synthetic_faces, tmp_path, tiny_config):
    """steps=5, log_every=2, checkpoint_every=4 used to train 6 steps and keep the checkpoint of step 4."""
    run = tmp_path / "run"
    config = TrainConfig(batch_size=4, steps=5, log_every=2, sample_every=2, checkpoint_every=4)
    gan = train(synthetic_faces, run, tiny_config, config, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 5
    assert read_checkpoint_state(run)["step"] == 5 and load_model(run / "model").card["steps"] == 5
    assert [row["step"] for row in read_metrics(run)] == [2, 4, 5]
    gan = train(synthetic_faces, run, tiny_config, TrainConfig(**{**config.__dict__, "steps": 9}), resume=True, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 9 and read_checkpoint_state(run)["step"] == 9
    assert [row["step"] for row in read_metrics(run)] == [2, 4, 5, 6, 8, 9]


@pytest.mark.parametrize("bad, message", [
    ({"steps": 0}, "steps must be"), ({"log_every": 0}, "log_every must be"), ({"batch_size": 2.5}, "batch_size"),
    ({"log_every": 3, "checkpoint_every": 4}, "multiples of log_every"), ({"learning_rate": -1.0}, "learning rates"),
    ({"d_learning_rate": 0.0}, "learning rates"), ({"label_smoothing": 0.5}, "label_smoothing"),
])
def test_train_config_is_validated_in_one_place(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)


@pytest.mark.parametrize("averaged", [True, False])
def test_a_run_from_an_averaged_g_of_its_size_averages_from_its_first_step(synthetic_faces, tmp_path, tiny_config,
                                                                          tiny_model, averaged):
    """The exported G of a run continued from weights whose card says they are a moving average stays near them (the
    full decay, 0.999), rather than following the raw G through the warm-up; from a raw G (ema_decay 0 or unsaid) it
    warms up, as a run from scratch does."""
    from core.weights import save_model

    weights = tmp_path / "weights"
    save_model(weights, tiny_config, tiny_model.generator, tiny_model.discriminator,
               card={"steps": 0, **({"ema_decay": 0.999} if averaged else {})})
    gan = train(synthetic_faces, tmp_path / "run", tiny_config, TrainConfig(**STEPS), verbose=0, init_from=weights)
    assert load_model(tmp_path / "run" / "model").card["ema_decay"] == 0.999  # what a run from these would read
    published = tiny_model.generator.get_weights()[0]
    raw, average = gan.generator.get_weights()[0], gan.ema_generator.get_weights()[0]
    assert np.abs(raw - published).max() > 1e-4
    share = np.abs(average - published).max() / np.abs(raw - published).max()  # how far the average followed
    assert share < 0.05 if averaged else share > 0.5


def test_the_run_exports_the_moving_average_of_g(synthetic_faces, tmp_path, tiny_config):
    import h5py

    from core.model import DCGAN

    run = tmp_path / "run"
    gan = train(synthetic_faces, run, tiny_config, TrainConfig(**STEPS, ema_decay=0.5), verbose=0)
    exported = load_model(run / "model").generator.get_weights()
    for published, average, raw in zip(exported, gan.ema_generator.get_weights(), gan.generator.get_weights()):
        np.testing.assert_allclose(published, average, atol=1e-6)
    assert any(not np.allclose(a, r) for a, r in zip(gan.ema_generator.get_weights(), gan.generator.get_weights()))

    # A checkpoint from before the moving average existed resumes, the average starting at its G.
    with h5py.File(run / CHECKPOINT, "a") as f:
        raw_g = [np.array(f["generator/layers/dense/vars/0"])]
        del f["ema_generator"]
    resumed = DCGAN(tiny_config, TrainConfig(**STEPS))
    resumed.compile()
    resumed.build_optimizers()
    from core.train import load_checkpoint

    load_checkpoint(resumed, run / CHECKPOINT)
    np.testing.assert_array_equal(resumed.ema_generator.get_weights()[0], raw_g[0])
    train(synthetic_faces, run, tiny_config, TrainConfig(**{**STEPS, "steps": 4}), resume=True, verbose=0)
    assert read_checkpoint_state(run)["step"] == 4


def test_without_a_moving_average_the_raw_g_is_exported(synthetic_faces, tmp_path, tiny_config):
    run = tmp_path / "run"
    gan = train(synthetic_faces, run, tiny_config, TrainConfig(**STEPS, ema_decay=0.0), verbose=0)
    for published, raw in zip(load_model(run / "model").generator.get_weights(), gan.generator.get_weights()):
        np.testing.assert_allclose(published, raw, atol=1e-6)


def test_a_grown_run_fades_in_resumes_and_exports_the_plain_model(synthetic_faces, tmp_path, tiny_config, tiny_model,
                                                                   tiny_weights):
    from core.model import sample_z

    run, grown = tmp_path / "run", tiny_config.grown()
    config = TrainConfig(**{**STEPS, "steps": 2, "fade_steps": 4})
    with pytest.raises(ValueError, match="init-from"):
        train(synthetic_faces, tmp_path / "no-init", grown, config, verbose=0)
    gan = train(synthetic_faces, run, grown, config, verbose=0, init_from=tiny_weights)
    assert float(gan.generator.get_layer("fade").alpha.numpy()) == 0.25  # set before step 2 of 4
    gan = train(synthetic_faces, run, grown, TrainConfig(**{**STEPS, "steps": 5, "fade_steps": 4}), resume=True,
                verbose=0)
    for model in (gan.generator, gan.ema_generator, gan.discriminator):
        assert float(model.get_layer("fade").alpha.numpy()) == 1.0
    exported = load_model(run / "model")  # the plain grown model: no fade layer, no old toRGB
    assert exported.config == grown and exported.card["grown_from_size"] == tiny_config.image_size
    assert exported.card["steps"] == 5
    z = sample_z(2, grown.z_dim, seed=0)
    np.testing.assert_allclose(exported.generator(z).numpy(), gan.ema_generator(z).numpy(), atol=1e-5)
    # The layers it kept went on training from the small model's.
    small, kept = tiny_model.generator.get_layer("g_conv8").get_weights()[0], gan.generator.get_layer("g_conv8")
    assert 0 < np.abs(kept.get_weights()[0] - small).max() < 1e-2


def test_a_bfloat16_run_trains_and_exports_float32_weights(synthetic_faces, tmp_path, tiny_config):
    run = tmp_path / "run"
    gan = train(synthetic_faces, run, tiny_config, TrainConfig(**{**STEPS, "precision": "mixed_bfloat16"}), verbose=0)
    assert gan.generator.layers[-1].compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in gan.generator.weights + gan.ema_generator.weights)
    assert all(np.isfinite(row["g_loss"]) for row in read_metrics(run))
    assert load_model(run / "model").generator.layers[-1].compute_dtype == "float32"
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="float16")


def test_d_has_its_own_learning_rate_and_a_smoothed_target_for_real_faces(tiny_config):
    """One-sided label smoothing: D's loss on real faces is measured against 1 - label_smoothing."""
    import tensorflow as tf

    from core.model import DCGAN

    assert TrainConfig().d_learning_rate == TrainConfig().learning_rate
    losses = {}
    for smoothing in (0.0, 0.2):
        gan = DCGAN(tiny_config, TrainConfig(**STEPS, label_smoothing=smoothing, d_learning_rate=1e-4))
        gan.compile()
        assert np.isclose(float(gan.d_optimizer.learning_rate.numpy()), 1e-4)
        assert np.isclose(float(gan.g_optimizer.learning_rate.numpy()), 2e-4)
        real = tf.random.stateless_uniform((4, 16, 16, 3), (1, 2), -1, 1)
        logits = gan.discriminator(real, training=True)
        losses[smoothing] = float(gan.train_step((real, tf.zeros((4, tiny_config.z_dim))))["d_loss_real"])
        expected = keras.losses.BinaryCrossentropy(from_logits=True)(tf.fill((4, 1), 1 - smoothing), logits)
        assert np.isclose(losses[smoothing], float(expected), atol=1e-3)
    assert losses[0.2] != losses[0.0]


def test_the_r1_penalty_flattens_d_at_real_faces(tiny_config):
    """With r1_gamma, D's steps also shrink its gradient at the real faces: after a few steps from the same start,
    D's squared slope there is far smaller than without the penalty."""
    import tensorflow as tf

    from core.model import DCGAN

    real = tf.random.stateless_uniform((8, 16, 16, 3), (3, 4), -1, 1)
    z = tf.random.stateless_uniform((8, tiny_config.z_dim), (5, 6), -1, 1)
    slopes = {}
    for gamma in (0.0, 10.0):
        keras.utils.set_random_seed(0)
        gan = DCGAN(tiny_config, TrainConfig(**STEPS, r1_gamma=gamma, learning_rate=1e-2))
        gan.compile()
        for _ in range(10):
            gan.train_step((real, z))
        with tf.GradientTape() as tape:
            tape.watch(real)
            logits = tf.reduce_sum(gan.discriminator(real, training=True))
        slopes[gamma] = float(tf.reduce_mean(tf.reduce_sum(tf.square(tape.gradient(logits, real)), [1, 2, 3])))
    assert slopes[10.0] < slopes[0.0] / 4, slopes
    with pytest.raises(ValueError, match="r1_gamma"):
        TrainConfig(r1_gamma=-1.0)


def test_a_spectrally_normalised_d_trains_from_a_plain_one_and_exports_plain(synthetic_faces, tmp_path, tiny_config,
                                                                             tiny_model, tiny_weights):
    """D's layers are wrapped in spectral norm under their own names: a run grows from a plain D, keeps every
    layer's largest singular value at 1, and exports a plain D that scores faces as the trained one does."""
    keras.utils.set_random_seed(0)  # three power iterations from a random start: near 1, by how much depends on it
    run = tmp_path / "run"
    gan = train(synthetic_faces, run, tiny_config.grown(), TrainConfig(**STEPS, spectral_norm=True), verbose=0,
                init_from=tiny_weights)
    trained = gan.discriminator
    assert isinstance(trained.get_layer("d_conv8"), keras.layers.SpectralNormalization)
    for name in ("d_rgb32", "d_conv16", "d_conv8", "d_logit"):
        kernel = trained.get_layer(name).layer.kernel.numpy()
        assert np.isclose(np.linalg.norm(kernel.reshape(-1, kernel.shape[-1]), 2), 1.0, atol=0.05)
    # d_conv8 came from the 16 px model, rescaled to a unit spectral norm and trained on.
    small = tiny_model.discriminator.get_layer("d_conv8").get_weights()[0]
    assert np.abs(trained.get_layer("d_conv8").layer.kernel.numpy() - small).max() > 0
    exported = load_model(run / "model").discriminator
    assert not any(isinstance(layer, keras.layers.SpectralNormalization) for layer in exported.layers)
    faces = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(exported(faces).numpy(), trained(faces).numpy(), atol=1e-4)
    resumed = train(synthetic_faces, run, tiny_config.grown(), TrainConfig(**{**STEPS, "steps": 4}), resume=True,
                    verbose=0)
    assert resumed.train_config.spectral_norm and read_checkpoint_state(run)["step"] == 4


def test_training_a_model_on_from_the_command_line_takes_its_widths(synthetic_faces, tmp_path, tiny_weights, tiny_config):
    """No --gf, --df or --z-dim: the shipped model's own, not ModelConfig's defaults. --output-blur low-passes the G
    it trains on (ModelConfig.output_blur has no weights, so any G loads under it); a resumed run keeps it."""
    run = tmp_path / "run"
    options = ["--data", synthetic_faces, "--out", run, "--image-size", "16", "--batch-size", "4", "--log-every", "1",
               "--sample-every", "1", "--checkpoint-every", "1"]
    result = run_cli("core.train", *options, "--init-from", tiny_weights, "--steps", "1", "--output-blur", "0.5")
    assert result.returncode == 0, result.stderr[-2000:]
    result = run_cli("core.train", *options, "--resume", "--steps", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    model = load_model(run / "model")
    assert model.config == replace(tiny_config, output_blur=0.5) and model.card["steps"] == 2
    assert model.generator.get_layer("g_lowpass").strength == 0.5
