"""The completion encoder: optional in a weights folder, trained on G's own samples, and a start that can only help."""
import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.face_filler import FaceFiller
from core.config import CompletionConfig
from core.encoder import encoder_input, train_encoder, training_masks
from core.masks import center_mask
from core.model import build_encoder, sample_z
from core.weights import ENCODER_FILE, MODEL_JSON, TrainedModel, WeightsError, load_model
from tests.helpers.cli import run_cli


def planted_encoder(config, z) -> keras.Model:
    """An 'encoder' that always answers z (tanh of a bias of atanh z)."""
    encoder = build_encoder(config)
    head = encoder.layers[-1]
    head.set_weights([np.zeros_like(head.get_weights()[0]), np.arctanh(np.clip(z, -0.999, 0.999))])
    return encoder


def test_the_encoders_guess_joins_the_starting_pool(tiny_model):
    z_true = sample_z(1, tiny_model.config.z_dim, seed=21).numpy()
    face = tiny_model.generator(z_true).numpy()
    model = TrainedModel(tiny_model.config, tiny_model.generator, tiny_model.discriminator,
                         encoder=planted_encoder(tiny_model.config, z_true[0]))
    config = CompletionConfig(iterations=1, learning_rate=1e-5, init_pool=1, tune_steps=0, blend=False)
    with_guess = FaceFiller(model).complete(face, center_mask(16), config)
    without = FaceFiller(model).complete(face, center_mask(16), CompletionConfig(**{**config.__dict__, "use_encoder": False}))
    np.testing.assert_allclose(with_guess.z, z_true, atol=1e-3)
    assert np.abs(without.z - z_true).max() > 0.1


def test_training_lowers_the_rebuild_error(tiny_model):
    keras.utils.set_random_seed(3)
    z = sample_z(32, tiny_model.config.z_dim, seed=9)
    faces = tiny_model.generator(z)
    known = tf.constant(training_masks(16, 32)[..., None])
    def error(encoder):
        return float(tf.reduce_mean(tf.abs(tiny_model.generator(encoder(encoder_input(faces, known))) - faces)))
    untrained = error(build_encoder(tiny_model.config))
    trained = error(train_encoder(tiny_model, steps=150, batch_size=32, learning_rate=2e-3, verbose=0))
    assert trained < 0.8 * untrained
    assert tiny_model.generator.trainable  # G is frozen only while E trains


def test_training_masks_hide_something_and_keep_something():
    masks = training_masks(32, 40)
    hidden = 1 - masks.mean(axis=(1, 2))
    assert masks.shape == (40, 32, 32) and (hidden > 0.02).all() and (hidden < 0.75).all()


def test_encoder_cli_writes_the_file_and_load_model_reads_it(tmp_path, tiny_weights):
    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights, folder)
    assert load_model(folder).encoder is None  # older weight folders have none
    result = run_cli("core.encoder", "--weights", folder, "--steps", "2", "--batch-size", "4")
    assert result.returncode == 0, result.stderr
    loaded = load_model(folder)
    assert loaded.encoder is not None and loaded.card["encoder"]["steps"] == 2
    assert loaded.card["steps"] == 0  # the generator's own card is kept
    assert not list(folder.glob(".*tmp*"))
    published = tmp_path / "published"  # core.weights publishes the encoder with G and D
    result = run_cli("core.weights", folder, published)
    assert result.returncode == 0, result.stderr
    assert load_model(published).encoder is not None


def test_a_broken_encoder_file_is_refused(tmp_path, tiny_weights):
    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights, folder)
    (folder / ENCODER_FILE).write_bytes(b"not hdf5")
    with pytest.raises(WeightsError, match="encoder.weights.h5"):
        load_model(folder)


def test_publishing_a_new_generator_keeps_the_companions_and_says_which_to_refit(tmp_path, tiny_weights):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    result = run_cli("core.encoder", "--weights", weights, "--steps", "2", "--batch-size", "4")
    assert result.returncode == 0, result.stderr
    meta = json.loads((weights / MODEL_JSON).read_text())
    meta["card"].update(steps=6000, age_gender={"epochs": 12}, completion={"tune_steps": 3})
    (weights / MODEL_JSON).write_text(json.dumps(meta))
    run_model = tmp_path / "run_model"  # a run exports G and D with its own card, and no encoder
    shutil.copytree(tiny_weights, run_model)
    meta = json.loads((run_model / MODEL_JSON).read_text())
    meta["card"] = {"steps": 7000, "initialised_from": "weights"}
    (run_model / MODEL_JSON).write_text(json.dumps(meta))

    result = run_cli("core.weights", run_model, weights)
    assert result.returncode == 0, result.stderr
    assert "kept the encoder fitted to the previous generator" in result.stdout and "--warm-start" in result.stdout
    card = load_model(weights).card
    assert card["steps"] == 7000 and card["age_gender"] == {"epochs": 12}
    assert card["completion"] == {"tune_steps": 3}  # the folder's own completion defaults survive a new G
    assert card["encoder"]["steps"] == 2 and card["encoder"]["fitted_to_generator_steps"] == 6000

    result = run_cli("core.encoder", "--weights", weights, "--steps", "2", "--batch-size", "4",
                     "--warm-start")
    assert result.returncode == 0, result.stderr
    encoder = load_model(weights).card["encoder"]
    assert "fitted_to_generator_steps" not in encoder and encoder["started_from"]["fitted_to_generator_steps"] == 6000


def test_warm_start_needs_an_encoder(tiny_model):
    with pytest.raises(WeightsError, match="no encoder to start from"):
        train_encoder(tiny_model, steps=1, batch_size=2, warm_start=True)


def test_warm_start_begins_where_the_encoder_left_off(tiny_model):
    first = train_encoder(tiny_model, steps=3, batch_size=4, verbose=0)
    with_encoder = TrainedModel(tiny_model.config, tiny_model.generator, tiny_model.discriminator, encoder=first)
    further = train_encoder(with_encoder, steps=1, batch_size=4, learning_rate=1e-12, verbose=0, warm_start=True)
    for a, b in zip(first.trainable_weights, further.trainable_weights):  # batch norm's statistics move on
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
