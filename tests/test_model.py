import json
from dataclasses import replace

import h5py
import keras
import numpy as np
import pytest

from core.config import CompletionConfig, ModelConfig, completion_preset
from core.detail import without_checkerboard
from core.model import build_discriminator, build_generator, copy_layers, sample_z
from core.weights import GENERATOR_FILE, MODEL_JSON, WeightsError, load_model, save_model
from tests.helpers.patterns import checkerboard


@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig(image_size=16, z_dim=8, gf=4, df=4)])
def test_shapes_and_ranges(config):
    g, d = build_generator(config), build_discriminator(config)
    z = sample_z(3, config.z_dim, seed=1)
    images = g(z, training=False).numpy()
    assert images.shape == (3, config.image_size, config.image_size, 3)
    assert images.min() >= -1 and images.max() <= 1
    assert d(images, training=False).shape == (3, 1)


def test_paper_architecture():
    g, d = build_generator(ModelConfig()), build_discriminator(ModelConfig())
    reshape = next(layer for layer in g.layers if layer.name.startswith("reshape"))
    assert reshape.output.shape[1:] == (4, 4, 512)
    convs = [layer for layer in d.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 128, 256, 512]
    assert all(c.kernel_size == (5, 5) and c.strides == (2, 2) for c in convs)


def test_a_grown_model_starts_as_the_small_one_enlarged(tiny_model):
    """Progressive growing: G and D of twice the size hold every layer of the small ones but G's toRGB; with the
    fade at 0 the grown G draws the small G's image enlarged, and D scores an enlarged image as the small D does."""
    small = tiny_model.config
    grown = small.grown()
    assert (grown.image_size, grown.gf, grown.df) == (2 * small.image_size, small.gf // 2, small.df // 2)
    g, d = build_generator(grown, fade=True), build_discriminator(grown, fade=True)
    size = grown.image_size
    assert copy_layers(tiny_model.generator, g) == [f"g_conv{size // 2}", f"g_bn{size // 2}", f"g_rgb{size}", "fade"]
    assert copy_layers(tiny_model.discriminator, d) == [f"d_rgb{size}", f"d_conv{size // 2}", f"d_bn{size // 2}", "fade"]
    z = sample_z(3, small.z_dim, seed=2)
    small_faces = tiny_model.generator(z).numpy()
    enlarged = keras.layers.UpSampling2D(2, interpolation="bilinear")(small_faces).numpy()
    np.testing.assert_allclose(g(z).numpy(), enlarged, atol=1e-6)
    doubled = np.repeat(np.repeat(small_faces, 2, axis=1), 2, axis=2)
    np.testing.assert_allclose(d(doubled).numpy(), tiny_model.discriminator(small_faces).numpy(), atol=1e-4)
    g.get_layer("fade").alpha.assign(1.0)  # fully faded in: the new block alone, as the plain grown G draws
    plain = build_generator(grown)
    assert copy_layers(g, plain) == []
    np.testing.assert_allclose(plain(z).numpy(), g(z).numpy(), atol=1e-6)
    assert np.abs(plain(z).numpy() - enlarged).max() > 0.05


def test_output_blur_low_passes_g_and_any_gs_weights_load_under_it(tmp_path, tiny_weights, tiny_model):
    """ModelConfig.output_blur moves G's face towards itself blurred by [1, 2, 1] / 4 with mirrored edges (OpenCV's
    default border). It has no weights: a G saved without it loads under it and draws the same faces, blurred."""
    import shutil

    folder = tmp_path / "blurred"
    shutil.copytree(tiny_weights, folder)
    meta = json.loads((folder / MODEL_JSON).read_text())
    meta["config"]["output_blur"] = 0.5
    (folder / MODEL_JSON).write_text(json.dumps(meta))
    blurred = load_model(folder)
    assert blurred.config == replace(tiny_model.config, output_blur=0.5)
    assert blurred.config.same_weights(tiny_model.config) and not blurred.config.same_weights(replace(blurred.config, gf=8))
    z = sample_z(3, tiny_model.config.z_dim, seed=4)
    plain = tiny_model.generator(z).numpy()
    expected = np.stack([face + 0.5 * (without_checkerboard(face) - face) for face in plain])
    np.testing.assert_allclose(blurred.generator(z).numpy(), expected, atol=1e-6)
    # The transposed conv's checkerboard (half the sampling rate both ways) is halved; a flat face is untouched.
    pattern = checkerboard((1, 8, 8, 3), 1.0)
    lowpass = blurred.generator.get_layer("g_lowpass")
    np.testing.assert_allclose(lowpass(pattern).numpy()[:, 1:-1, 1:-1], 0.5 * pattern[:, 1:-1, 1:-1], atol=1e-6)
    np.testing.assert_allclose(lowpass(np.full((1, 8, 8, 3), 0.3)).numpy(), 0.3, atol=1e-6)
    with pytest.raises(ValueError, match="output_blur"):
        ModelConfig(output_blur=1.5)


def test_z_is_uniform_in_unit_cube():
    z = sample_z(1000, 100, seed=3).numpy()
    assert z.min() >= -1 and z.max() <= 1 and abs(z.mean()) < 0.05


def test_invalid_config_is_refused():
    with pytest.raises(ValueError, match="power of two"):
        ModelConfig(image_size=48)


def test_save_load_round_trip(tmp_path, tiny_model, tiny_config):
    save_model(tmp_path, tiny_config, tiny_model.generator, tiny_model.discriminator, card={"steps": 7})
    loaded = load_model(tmp_path)
    z = sample_z(4, tiny_config.z_dim, seed=2)
    np.testing.assert_array_equal(loaded.generator(z).numpy(), tiny_model.generator(z).numpy())
    images = tiny_model.generator(z)
    np.testing.assert_array_equal(loaded.discriminator(images).numpy(), tiny_model.discriminator(images).numpy())
    assert loaded.card["steps"] == 7 and loaded.config == tiny_config


def test_float16_storage_matches_float32(tmp_path, tiny_model, tiny_config):
    save_model(tmp_path, tiny_config, tiny_model.generator, tiny_model.discriminator, dtype="float16")
    with h5py.File(tmp_path / GENERATOR_FILE) as f:
        dtypes = set()
        f.visititems(lambda name, obj: dtypes.add(obj.dtype) if isinstance(obj, h5py.Dataset) else None)
    assert dtypes == {np.dtype("float16")}
    z = sample_z(4, tiny_config.z_dim, seed=2)
    np.testing.assert_allclose(load_model(tmp_path).generator(z).numpy(), tiny_model.generator(z).numpy(), atol=2e-2)


def test_missing_folder_is_reported(tmp_path):
    with pytest.raises(WeightsError, match="model.json is missing"):
        load_model(tmp_path / "nowhere")


def test_mismatched_weights_are_refused(tmp_path, tiny_model, tiny_config):
    save_model(tmp_path, tiny_config, tiny_model.generator, tiny_model.discriminator)
    meta = json.loads((tmp_path / MODEL_JSON).read_text())
    meta["config"]["gf"] = 8
    (tmp_path / MODEL_JSON).write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match=r"generator\.weights\.h5 does not fit"):
        load_model(tmp_path)


def test_unexpected_config_is_refused(tiny_weights):
    with pytest.raises(WeightsError, match="expected"):
        load_model(tiny_weights, expect=ModelConfig())


@pytest.mark.parametrize("content", [b"", b"\x80\x04\x95pickle", b"\x89HDF\r\n\x1a\n truncated"])
def test_broken_weights_file_is_refused(tmp_path, tiny_model, tiny_config, content):
    save_model(tmp_path, tiny_config, tiny_model.generator, tiny_model.discriminator)
    (tmp_path / GENERATOR_FILE).write_bytes(content)
    with pytest.raises(WeightsError, match=GENERATOR_FILE):
        load_model(tmp_path)


def test_a_models_card_sets_its_own_completion_defaults(tmp_path, tiny_model, tiny_config):
    save_model(tmp_path, tiny_config, tiny_model.generator, tiny_model.discriminator,
               card={"completion": {"tune_steps": 7}})
    own = load_model(tmp_path).completion
    assert own == replace(CompletionConfig(), tune_steps=7)
    assert completion_preset("default", own) == own
    assert completion_preset("short-tuning", own).tune_steps == 25  # the earlier defaults stay reachable
    save_model(tmp_path, tiny_config, tiny_model.generator, tiny_model.discriminator)
    assert load_model(tmp_path).completion == CompletionConfig()  # a card without the section: the defaults


@pytest.mark.parametrize("completion", [{"tune_stepz": 7}, {"tune_steps": -1}, [7]])
def test_a_card_with_wrong_completion_defaults_is_refused_with_the_file_named(tmp_path, tiny_model, tiny_config,
                                                                             completion):
    save_model(tmp_path, tiny_config, tiny_model.generator, tiny_model.discriminator, card={"completion": completion})
    with pytest.raises(WeightsError, match="model.json is not a valid model description"):
        load_model(tmp_path)
