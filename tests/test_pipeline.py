"""The one photo pipeline the page and the CLI share: complete, blend, paste back at the photo's resolution."""
import io

import numpy as np
import pytest
from PIL import Image

from core.align import FaceAligner
from core.completer import Completer
from dataclasses import replace

from core.config import CompletionConfig
from core.masks import center_mask
from core.model import sample_z
from core.images import to_uint8
from core.pipeline import complete_faces, paste_back, photo_fill

FAST = CompletionConfig(iterations=10, report_every=5, init_pool=16, tune_steps=2)


@pytest.fixture(scope="module")
def alignment(astronaut):
    with FaceAligner() as aligner:
        return aligner.align(astronaut, 64)


def test_paste_back_blends_at_the_photos_resolution(astronaut, alignment):
    # G's face is the photo's own face, 40 levels too bright: the Poisson paste-back must take
    # the brightness from the photo round the hole, so the filled photo is close to the original.
    mask = center_mask(64)
    brighter = alignment.face.astype(np.float32) + 40
    pasted = paste_back(astronaut, alignment, brighter, mask, CompletionConfig())
    hole = photo_fill(astronaut.shape, alignment, mask)
    np.testing.assert_array_equal(pasted[~hole], astronaut[~hole])
    error = np.abs(pasted[hole].astype(float) - astronaut[hole]).mean()
    hard = paste_back(astronaut, alignment, brighter, mask, CompletionConfig(blend=False))
    hard_error = np.abs(hard[hole].astype(float) - astronaut[hole]).mean()
    assert error < 8 and hard_error > 30  # the 64 px face upscaled loses detail, not brightness


def test_complete_faces_returns_what_the_page_and_cli_show(tiny_model, astronaut, alignment):
    completer = Completer(tiny_model)
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=3)).numpy()[0])
    small = alignment.__class__(face, alignment.matrix / 4, alignment.landmarks)
    seen = []
    results = complete_faces(completer, [face, face], center_mask(16), FAST, [None, (astronaut, small)],
                             lambda i, loss, preview: seen.append(i))
    assert seen == [5, 10] and len(results) == 2
    first, second = results
    assert first.pasted is None and second.pasted.shape == astronaut.shape
    assert first.completed.dtype == np.uint8 and first.completed.shape == (16, 16, 3)
    assert len(first.frames) == 2
    gif = Image.open(io.BytesIO(first.gif(scale=2)))
    assert gif.n_frames == 3 and gif.size == (32, 32)


def test_tuning_fits_the_known_pixels_and_leaves_g_alone(tiny_model):
    completer = Completer(tiny_model)
    faces = tiny_model.generator(sample_z(3, tiny_model.config.z_dim, seed=5)).numpy()
    faces = np.clip(faces + 0.3, -1, 1)  # something G cannot draw exactly
    before = [w.copy() for w in tiny_model.generator.get_weights()]
    plain = completer.complete(faces, center_mask(16), CompletionConfig(iterations=10, tune_steps=0, blend=False))
    tuned = completer.complete(faces, center_mask(16), CompletionConfig(iterations=10, tune_steps=20,
                                                                        tune_learning_rate=1e-2, blend=False))
    known = center_mask(16).known[..., None]
    def fit(r):
        return np.abs((r.generated - faces) * known).mean()
    assert fit(tuned) < 0.8 * fit(plain)
    for a, b in zip(before, tiny_model.generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_huge_hole_is_solved_at_a_reduced_scale_and_keeps_known_pixels(astronaut, alignment, monkeypatch):
    import core.pipeline

    mask = center_mask(64)
    brighter = alignment.face.astype(np.float32) + 40
    full = paste_back(astronaut, alignment, brighter, mask, CompletionConfig())
    monkeypatch.setattr(core.pipeline, "MAX_BLEND_PIXELS", 500)
    reduced = paste_back(astronaut, alignment, brighter, mask, CompletionConfig())
    hole = photo_fill(astronaut.shape, alignment, mask)
    np.testing.assert_array_equal(reduced[~hole], astronaut[~hole])
    assert np.abs(reduced[hole].astype(float) - full[hole]).mean() < 10  # coarser, but the same fill


def test_a_time_budget_stops_the_search_and_still_returns_a_blended_face(tiny_model):
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=3)).numpy()[0])
    config = CompletionConfig(iterations=400, report_every=5, init_pool=16, tune_steps=2)
    (done,) = complete_faces(Completer(tiny_model), [face], center_mask(16), config, seconds=0.0)
    assert done.iterations == 5  # stopped at the first report
    assert done.completed.shape == (16, 16, 3) and len(done.frames) == 1
    (full,) = complete_faces(Completer(tiny_model), [face], center_mask(16), replace(config, iterations=10))
    assert full.iterations == 10


def test_fine_tuning_is_safe_when_completions_run_at_once(tiny_model):
    """Completions share one Completer (and its one copy of G): two at once get what each gets alone."""
    import threading

    completer = Completer(tiny_model)
    faces = np.clip(tiny_model.generator(sample_z(2, tiny_model.config.z_dim, seed=8)).numpy() + 0.2, -1, 1)
    config = CompletionConfig(iterations=5, init_pool=4, tune_steps=30, tune_learning_rate=1e-2, blend=False)
    alone = [completer.complete(face[None], center_mask(16), config).generated for face in faces]
    together = [None, None]

    def run(i):
        together[i] = completer.complete(faces[i][None], center_mask(16), config).generated

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for a, b in zip(alone, together):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_variants_are_other_fills_of_the_same_face(tiny_model, astronaut, alignment):
    from core.pipeline import MAX_VARIANTS, complete_variants

    completer = Completer(tiny_model)
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=3)).numpy()[0])
    small = alignment.__class__(face, alignment.matrix / 4, alignment.landmarks)
    mask = center_mask(16)
    (fills,) = complete_variants(completer, [face], mask, 3, FAST, [(astronaut, small)])
    assert len(fills) == 3
    hole = photo_fill(astronaut.shape, small, mask)
    for fill in fills:
        np.testing.assert_array_equal(fill.pasted[~hole], astronaut[~hole])
    in_hole = [f.generated[mask.fill].astype(float) for f in fills]  # each its own face, not copies of one
    assert min(np.abs(a - b).mean() for i, a in enumerate(in_hole) for b in in_hole[i + 1:]) > 0.25
    with pytest.raises(ValueError, match="variants"):
        complete_variants(completer, [face], mask, MAX_VARIANTS + 1, FAST)


def test_only_the_first_variant_may_start_at_the_encoders_guess(tiny_model):
    import tensorflow as tf

    from core.weights import TrainedModel

    z0 = sample_z(1, tiny_model.config.z_dim, seed=11)
    face = tiny_model.generator(z0).numpy()  # the guess below draws this face exactly: it wins any pool

    def encoder(inputs, training=False):
        return tf.repeat(z0, tf.shape(inputs)[0], axis=0)

    model = TrainedModel(tiny_model.config, tiny_model.generator, tiny_model.discriminator, {}, encoder)
    completer = Completer(model)
    y = tf.constant(np.repeat(face, 3, axis=0))  # one face's three variants
    mask = center_mask(16)
    known = tf.constant(np.repeat(mask.known[None, ..., None], 3, axis=0).astype(np.float32))
    w = tf.ones_like(y[..., :1]) * known
    completer._networks(FAST.precision)  # as complete() does first
    starts = completer._initial_z(y, known, w, FAST, 1, group=3).numpy()
    np.testing.assert_allclose(starts[0], z0.numpy()[0])
    assert np.abs(starts[1:] - z0.numpy()[0]).max(axis=1).min() > 0.1
    # The others take the next-best z of the same pool, not copies of one: one pool per face, scored once.
    assert np.abs(starts[1] - starts[2]).max() > 0.1
    pool = sample_z(FAST.init_pool, tiny_model.config.z_dim, FAST.seed * 7919).numpy()
    assert all(np.abs(pool - start).max(axis=1).min() < 1e-6 for start in starts[1:])


def test_variants_after_the_first_stop_searching_early(tiny_model):
    """Fills to choose from: each face's first fill searches as long as the single fill and ends where it does; the
    others stop after variant_iterations steps, where a search of that length ends."""
    completer = Completer(tiny_model)
    faces = tiny_model.generator(sample_z(2, tiny_model.config.z_dim, seed=5)).numpy()
    config = replace(FAST, iterations=12, variant_iterations=4, restarts=2, tune_steps=0, blend=False)
    reports = []
    both = completer.complete(faces, center_mask(16), config, lambda i, *rest: reports.append(i), variants=3)
    single = completer.complete(faces, center_mask(16), config)
    short = completer.complete(faces, center_mask(16), replace(config, iterations=4), variants=3)
    np.testing.assert_allclose(both.z[::3], single.z, atol=1e-4)
    others = np.arange(6) % 3 > 0
    np.testing.assert_allclose(both.z[others], short.z[others], atol=1e-4)
    assert reports == [4, 9, 12] and both.iterations == 12
    assert not np.allclose(both.z[::3], short.z[::3], atol=1e-3)  # the first fills did search on


def test_the_first_fill_offered_is_the_single_fill_and_the_others_keep_their_own_faces(tiny_model):
    """With tune_first_variant, G' is fitted to the first fill alone: the first of four is the single fill, and the
    others are drawn from their own z by that G' (fitted to all four at once, G' draws nearly one face from every z)."""
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=3)).numpy())
    mask = center_mask(16)
    config = replace(FAST, tune_steps=30, blend=False)
    single = Completer(tiny_model).complete(face, mask, config).generated[0]

    def spread(tune_first_variant: bool) -> tuple[np.ndarray, float]:
        fills = Completer(tiny_model).complete(face, mask, replace(config, tune_first_variant=tune_first_variant),
                                               variants=4).generated
        holes = fills[:, mask.fill]
        return fills[0], float(np.mean([np.abs(holes[a] - holes[b]).mean() for a in range(4) for b in range(a + 1, 4)]))

    first, apart = spread(True)
    _, together = spread(False)
    np.testing.assert_allclose(first, single, atol=1e-4)
    assert apart > 1.1 * together
