import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from core import complete as complete_cli
from core.attributes import ATTRIBUTES
from core.directions import Directions
from core.face_filler import FaceFiller
from core.search import contextual_weights
from core.config import STEP_SIZES, CompletionConfig
from core.images import to_uint8
from core.masks import Mask, MaskError, center_mask, full_mask, lowres_mask
from core.model import sample_z
from core.inpaint import FillRequest, complete_faces
from core.weights import save_model
from tests.helpers.cli import run_cli

FAST = CompletionConfig(iterations=60, learning_rate=0.05, report_every=20, blend=False, init_pool=0)


@pytest.fixture(scope="module")
def filler(tiny_model):
    return FaceFiller(tiny_model)


@pytest.fixture(scope="module")
def own_samples(tiny_model):
    """Faces the generator itself can draw exactly: completion should nearly recover them."""
    return tiny_model.generator(sample_z(3, tiny_model.config.z_dim, seed=11), training=False).numpy()


def hole_error(a, b, mask):
    return float(np.abs((a - b) * (1 - mask.known[..., None])).mean())


# HMC samples around low-loss regions rather than descending, so it is held to a looser bound.
@pytest.mark.parametrize("optimizer, lr, bound", [("adam", 0.05, 0.5), ("momentum", 0.002, 0.5), ("hmc", 0.01, 0.95)])
def test_optimiser_lowers_the_loss_and_recovers_g_samples(filler, own_samples, optimizer, lr, bound):
    mask = center_mask(16)
    config = CompletionConfig(**{**FAST.__dict__, "optimizer": optimizer, "learning_rate": lr})
    start = filler.complete(own_samples, mask, CompletionConfig(**{**config.__dict__, "iterations": 1}))
    result = filler.complete(own_samples, mask, config)
    assert result.history[-1][1] < bound * start.history[0][1]
    assert hole_error(result.generated, own_samples, mask) < hole_error(start.generated, own_samples, mask)
    assert np.abs(result.z).max() <= 1.0


@pytest.mark.parametrize("blend", [True, False])
def test_a_fill_keeps_the_known_pixels(filler, own_samples, blend):
    mask, faces = center_mask(16), to_uint8(own_samples)
    results = complete_faces(filler, [FillRequest(face, mask) for face in faces], replace(FAST, blend=blend))
    for (result,), face in zip(results, faces):
        assert result.completed.dtype == np.uint8
        np.testing.assert_array_equal(result.completed[mask.known > 0], face[mask.known > 0])
        assert (result.completed[mask.fill] != face[mask.fill]).any()


def test_restarts_pick_the_lowest_loss(filler, own_samples):
    config = CompletionConfig(**{**FAST.__dict__, "restarts": 4})
    result = filler.complete(own_samples, center_mask(16), config)
    assert result.restart_losses.shape == (3, 4) and len(result.z) == 3
    assert (result.restart_losses.max(axis=1) > result.restart_losses.min(axis=1)).all()
    # The returned z is the winning restart: re-evaluating it gives the smallest of the K losses.
    np.testing.assert_allclose(result.loss, result.restart_losses.min(axis=1), rtol=1e-4)


def test_init_pool_starts_closer(filler, own_samples):
    one = CompletionConfig(**{**FAST.__dict__, "iterations": 1})
    pooled = filler.complete(own_samples, center_mask(16), CompletionConfig(**{**one.__dict__, "init_pool": 256}))
    plain = filler.complete(own_samples, center_mask(16), one)
    assert pooled.contextual.mean() < plain.contextual.mean()


def test_callback_reports_progress_and_can_stop(filler, own_samples):
    seen = []
    def callback(iteration, loss, preview):
        seen.append((iteration, loss.shape, preview.shape))
        return iteration < 40
    result = filler.complete(own_samples, center_mask(16), FAST, callback)
    assert [s[0] for s in seen] == [20, 40] and result.iterations == 40
    assert seen[0][1] == (3,) and seen[0][2] == (3, 16, 16, 3)


def test_weighted_loss_favours_pixels_near_the_hole():
    weights = contextual_weights(center_mask(64), weighted=True)[..., 0]
    assert weights[32, 32] == 0 and weights[0, 0] == 0
    assert weights[15, 32] > 0 and weights[15, 32] > weights[10, 32]


def test_lowres_and_full_masks_give_finite_results(filler, own_samples):
    for mask in (lowres_mask(16, 4), full_mask(16)):
        result = filler.complete(own_samples, mask, CompletionConfig(**{**FAST.__dict__, "blend": True}))
        assert np.isfinite(result.loss).all() and np.isfinite(result.generated).all()


def test_all_known_mask_returns_the_input(filler, own_samples):
    faces = to_uint8(own_samples)
    requests = [FillRequest(face, Mask(np.ones((16, 16), np.float32))) for face in faces]
    results = complete_faces(filler, requests, replace(FAST, blend=True))
    np.testing.assert_array_equal([result.completed for (result,) in results], faces)


def test_wrong_inputs_are_refused(filler, own_samples):
    with pytest.raises(MaskError, match="16x16"):
        filler.complete(own_samples, center_mask(32), FAST)
    with pytest.raises(ValueError, match="aligned faces"):
        filler.complete(np.zeros((2, 20, 20, 3), np.uint8), center_mask(16), FAST)
    with pytest.raises(ValueError, match="NaN"):
        filler.complete(np.full((1, 16, 16, 3), np.nan, np.float32), center_mask(16), FAST)


def test_each_optimiser_has_its_own_step_size():
    assert CompletionConfig().learning_rate == STEP_SIZES["adam"]
    assert CompletionConfig(optimizer="momentum").learning_rate == STEP_SIZES["momentum"] < 0.001
    assert CompletionConfig(optimizer="hmc", learning_rate=0.02).learning_rate == 0.02


def test_hmc_moves_by_its_learning_rate(filler, own_samples):
    config = CompletionConfig(**{**FAST.__dict__, "optimizer": "hmc", "iterations": 5})
    still = filler.complete(own_samples, center_mask(16), CompletionConfig(**{**config.__dict__, "learning_rate": 1e-6}))
    moved = filler.complete(own_samples, center_mask(16), CompletionConfig(**{**config.__dict__, "learning_rate": 0.05}))
    start = sample_z(3, filler.z_dim, FAST.seed).numpy()
    assert np.abs(still.z - start).max() < 1e-3 < np.abs(moved.z - start).max()


def test_the_search_in_bfloat16_uses_the_models_weights_and_fits_as_float32_does(tiny_model, own_samples):
    filler = FaceFiller(tiny_model)
    mask = center_mask(16)
    fills = {precision: filler.complete(own_samples, mask, replace(FAST, precision=precision, tune_steps=5))
             for precision in ("float32", "mixed_bfloat16")}
    for copy, own in zip(filler.search.networks("mixed_bfloat16"), (tiny_model.generator, tiny_model.discriminator)):
        assert {layer.dtype_policy.name for layer in copy.layers if layer.weights} == {"mixed_bfloat16"}
        assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), own.get_weights()))
    assert filler.search.networks("float32") == (tiny_model.generator, tiny_model.discriminator)
    # Fine-tuning G stays in float32: its small steps would be lost in bfloat16's 8-bit mantissa.
    assert {layer.dtype_policy.name for layer in filler.tuner.copy().layers if layer.weights} == {"float32"}
    ours, theirs = fills["mixed_bfloat16"], fills["float32"]
    assert ours.generated.dtype == np.float32 and ours.loss.dtype == np.float32
    np.testing.assert_allclose(ours.loss, theirs.loss, rtol=0.15)
    assert hole_error(ours.generated, own_samples, mask) < 1.5 * hole_error(theirs.generated, own_samples, mask) + 0.02


def test_precision_auto_is_bfloat16_only_on_a_cpu_that_computes_it(monkeypatch):
    import core.config

    for native, precision in ((True, "mixed_bfloat16"), (False, "float32")):
        monkeypatch.setattr(core.config, "native_bfloat16", lambda: native)
        assert CompletionConfig().precision == precision
        assert CompletionConfig(precision="float32").precision == "float32"
    with pytest.raises(ValueError, match="precision"):
        CompletionConfig(precision="float16")


def test_complete_cli_writes_outputs(tmp_path, tiny_weights, tiny_model):
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=4)).numpy()[0])
    Image.fromarray(face).save(tmp_path / "face.png")
    (tmp_path / "junk.jpg").write_bytes(b"junk")
    out = tmp_path / "out"
    result = run_cli("core.complete", tmp_path / "face.png", tmp_path / "junk.jpg", "--weights", tiny_weights,
                     "--out", out, "--iters", "20", "--restarts", "2")
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stdout and "junk.jpg" in result.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == ["face_completed.png", "face_generated.png", "face_masked.png", "face_progress.gif"]
    gif = Image.open(out / "face_progress.gif")
    assert gif.n_frames > 2


def test_complete_cli_writes_fills_to_choose_from(tmp_path, tiny_weights, tiny_model):
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=4)).numpy()[0])
    Image.fromarray(face).save(tmp_path / "face.png")
    out = tmp_path / "out"
    result = run_cli("core.complete", tmp_path / "face.png", "--weights", tiny_weights, "--out", out, "--iters", "10",
                     "--variants", "3", "--variant-iters", "4")
    assert result.returncode == 0, result.stderr
    assert "2 more fills" in result.stdout
    assert {p.name for p in out.glob("*_completed.png")} == {"face_completed.png", "face_v2_completed.png",
                                                             "face_v3_completed.png"}
    too_many = run_cli("core.complete", tmp_path / "face.png", "--weights", tiny_weights, "--variants", "99")
    assert too_many.returncode == 2 and "--variants must be from 1 to" in too_many.stderr
    no_search = run_cli("core.complete", tmp_path / "face.png", "--weights", tiny_weights, "--variants", "2",
                        "--variant-iters", "0")
    assert no_search.returncode == 2 and "variant_iterations must be" in no_search.stderr


def test_complete_cli_refuses_missing_weights(tmp_path):
    result = run_cli("core.complete", "x.png", "--weights", tmp_path)
    assert result.returncode == 2 and "model.json is missing" in result.stderr


@pytest.mark.parametrize("with_directions", [False, True])
def test_warm_up_traces_what_a_users_first_fill_runs(tiny_model, with_directions):
    """Without directions the other fills are searched for; with them they are edits, scored by D."""
    z_dim = tiny_model.config.z_dim
    names = ["smile", "age", "female"]
    directions = Directions(names, np.eye(z_dim, dtype=np.float32)[:3], np.zeros((4, z_dim), np.float32),
                            np.full((4, len(ATTRIBUTES)), np.nan)) if with_directions else None
    filler = FaceFiller(tiny_model, directions)
    filler.warm_up()
    compiled = {"iterate": filler.search.iterate, "fit_only": filler.search.fit_only, "draw": filler.search.draw,
                "evaluate": filler.search.evaluate, "tune": filler.tuner.steps, "realism": filler.search.realism}
    traced = {name: function.experimental_get_tracing_count() for name, function in compiled.items()}
    face = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    for fills in (1, 4):  # the page's single fill and its four fills to choose from, with previews
        complete_faces(filler, [FillRequest(face, center_mask(16))], CompletionConfig(iterations=20, report_every=10),
                       fills, lambda *report: None)
    assert {name: function.experimental_get_tracing_count() for name, function in compiled.items()} == traced


def test_a_warm_up_stops_once_the_process_is_ending(tiny_weights):
    """A process waits for its warm-up at exit (it is not a daemon: see test_app). It waited for the whole
    warm-up, longer than a stopped server is given (CI: 'serve_app ... timed out after 10 seconds'): it must stop
    after the step in progress once the main thread is over."""
    script = (
        "import atexit, threading\n"
        "from core.face_filler import FaceFiller\n"
        "from core.weights import load_model\n"
        f"filler, ran = FaceFiller(load_model({str(tiny_weights)!r})), []\n"
        "atexit.register(lambda: print('warm-up ran to the end:', ran))\n"  # atexit runs after threads are joined
        "threading.Thread(target=lambda: ran.append(filler.warm_up()), name='warm-up').start()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warm-up ran to the end: [False]" in done.stdout


def test_a_fill_during_the_warm_up_waits_for_it(tiny_model, monkeypatch):
    """Two threads tracing at once race (autograph's AST objects in CPython 3.11), and the warm-up's traces are the
    fill's anyway: a fill that comes while the warm-up runs starts after it."""
    import threading

    filler = FaceFiller(tiny_model)
    networks, release, blocked, callers = filler.search.networks, threading.Event(), threading.Event(), []

    def networks_held_in_the_warm_up(precision):
        callers.append(threading.current_thread().name)
        if callers[-1] == "warm-up" and not release.is_set():
            blocked.set()
            release.wait(60)
        return networks(precision)

    monkeypatch.setattr(filler.search, "networks", networks_held_in_the_warm_up)
    warm_up = threading.Thread(target=filler.warm_up, name="warm-up")
    face = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    fill = threading.Thread(target=filler.complete, name="fill",
                            args=(face, center_mask(16), CompletionConfig(iterations=4, report_every=2)))
    warm_up.start()
    try:
        assert blocked.wait(60)
        fill.start()
        fill.join(2.0)
        assert fill.is_alive() and callers == ["warm-up"]  # waiting, not tracing beside it
    finally:
        release.set()
    warm_up.join(120)
    fill.join(120)
    assert not fill.is_alive() and not warm_up.is_alive()
    assert "fill" in callers and callers == sorted(callers, key=lambda name: name == "fill")  # the warm-up's first


def test_first_look_is_the_encoders_guess_in_the_hole(tiny_model):
    from core.encoder import encoder_input
    from core.images import to_model
    from core.model import build_encoder
    from core.weights import TrainedModel

    face = (np.random.default_rng(1).random((16, 16, 3)) * 255).astype(np.uint8)
    mask = center_mask(16)
    assert FaceFiller(tiny_model).first_look(face, mask) is None  # no encoder, nothing to show early
    encoder = build_encoder(tiny_model.config)
    model = TrainedModel(tiny_model.config, tiny_model.generator, tiny_model.discriminator, {}, encoder)
    look = FaceFiller(model).first_look(face, mask)
    y = to_model(face)[None]
    guess = tiny_model.generator(encoder(encoder_input(y, mask.known[None, ..., None].astype(np.float32)))).numpy()[0]
    np.testing.assert_allclose(look[~mask.fill], to_model(face)[~mask.fill])
    np.testing.assert_allclose(look[mask.fill], guess[mask.fill], atol=1e-5)


def test_complete_cli_takes_its_defaults_from_the_models_card(tmp_path, tiny_model, monkeypatch):
    save_model(tmp_path / "w", tiny_model.config, tiny_model.generator, tiny_model.discriminator,
               card={"completion": {"tune_steps": 3}})
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=4)).numpy()[0])
    Image.fromarray(face).save(tmp_path / "face.png")
    used = []
    monkeypatch.setattr(complete_cli, "complete_faces", lambda *args: used.append(args[2]) or [])
    common = [str(tmp_path / "face.png"), "--weights", str(tmp_path / "w"), "--out", str(tmp_path / "out")]
    complete_cli.main(common)
    complete_cli.main([*common, "--tune-steps", "9"])
    assert [config.tune_steps for config in used] == [3, 9]


def test_a_fill_without_settings_takes_the_models_own_defaults(tiny_model, own_samples):
    own = replace(tiny_model, card={"completion": {"iterations": 3, "variant_iterations": 2, "init_pool": 4, "tune_steps": 1}})
    assert FaceFiller(own).complete(own_samples[:1], center_mask(16)).iterations == 3
    (fills,) = complete_faces(FaceFiller(own), [FillRequest(own_samples[0], center_mask(16))], fills=2)
    assert [fill.iterations for fill in fills] == [3, 2]

