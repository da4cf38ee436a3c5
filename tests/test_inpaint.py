"""Inpainting a photo, as the page and the CLI share it: complete, blend, paste back at the photo's resolution."""
import io

import keras
import numpy as np
import tensorflow as tf
import pytest
from PIL import Image

from core.align import FaceAligner
from core.attributes import ATTRIBUTES
from core.directions import Directions
from core.face_filler import FaceFiller
from core.search import other_starts, spread_starts
from dataclasses import replace

from core.config import CompletionConfig
from core.detail import detail_energy
from core.masks import center_mask
from core.model import sample_z
from core.images import to_model, to_uint8
from core.blend import blend_in, within_photo_colours
from core.inpaint import MAX_VARIANTS, FillRequest, complete_faces, paste_back, photo_fill

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
    filler = FaceFiller(tiny_model)
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=3)).numpy()[0])
    small = alignment.__class__(face, alignment.matrix / 4, alignment.landmarks)
    seen = []
    requests = [FillRequest(face, center_mask(16)), FillRequest(face, center_mask(16), astronaut, small)]
    results = complete_faces(filler, requests, FAST, progress=lambda i, loss, preview: seen.append(i))
    assert seen == [5, 10] and [len(fills) for fills in results] == [1, 1]
    (first,), (second,) = results
    assert first.pasted is None and second.pasted.shape == astronaut.shape
    assert first.completed.dtype == np.uint8 and first.completed.shape == (16, 16, 3)
    assert len(first.frames) == 2
    gif = Image.open(io.BytesIO(first.gif(scale=2)))
    assert gif.n_frames == 3 and gif.size == (32, 32)


def test_tuning_fits_the_known_pixels_and_leaves_g_alone(tiny_model):
    filler = FaceFiller(tiny_model)
    faces = tiny_model.generator(sample_z(3, tiny_model.config.z_dim, seed=5)).numpy()
    faces = np.clip(faces + 0.3, -1, 1)  # something G cannot draw exactly
    before = [w.copy() for w in tiny_model.generator.get_weights()]
    plain = filler.complete(faces, center_mask(16), CompletionConfig(iterations=10, tune_steps=0, blend=False))
    tuned = filler.complete(faces, center_mask(16), CompletionConfig(iterations=10, tune_steps=20,
                                                                     tune_learning_rate=1e-2, blend=False))
    known = center_mask(16).known[..., None]
    def fit(r):
        return np.abs((r.generated - faces) * known).mean()
    assert fit(tuned) < 0.8 * fit(plain)
    for a, b in zip(before, tiny_model.generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_fused_tuning_step_is_keras_adam(tiny_model):
    # GTuner updates G' with TensorFlow's fused Adam kernel; it must take the steps Keras' Adam takes, from zero
    # moments on every face (a second face must not inherit the first's moments).
    filler = FaceFiller(tiny_model)
    z = tf.constant(sample_z(2, tiny_model.config.z_dim, seed=9))
    y = tf.clip_by_value(tiny_model.generator(z[::-1], training=False) + 0.2, -1, 1)
    w = tf.constant(np.repeat(center_mask(16).known[None, ..., None], 2, axis=0), tf.float32)
    config = CompletionConfig(tune_steps=6, tune_learning_rate=1e-2)
    fused, _ = filler.tuner.tuned_generate(z, y, w, config, factor=1)

    expected = []
    for i in range(2):
        copy = keras.models.clone_model(tiny_model.generator)
        copy.set_weights(tiny_model.generator.get_weights())
        adam = keras.optimizers.Adam(config.tune_learning_rate)
        for _ in range(config.tune_steps):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.abs(copy(z[i : i + 1], training=False) - y[i : i + 1]) * w[i : i + 1])
            adam.apply_gradients(zip(tape.gradient(loss, copy.trainable_variables), copy.trainable_variables))
        expected.append(copy(z[i : i + 1], training=False).numpy())
    untuned = tiny_model.generator(z, training=False).numpy()
    assert np.abs(fused - untuned).max() > 0.01  # the steps moved G'
    np.testing.assert_allclose(fused, np.concatenate(expected), atol=1e-4)


def test_a_huge_hole_is_solved_at_a_reduced_scale_and_keeps_known_pixels(astronaut, alignment, monkeypatch):
    import core.inpaint

    mask = center_mask(64)
    brighter = alignment.face.astype(np.float32) + 40
    full = paste_back(astronaut, alignment, brighter, mask, CompletionConfig())
    monkeypatch.setattr(core.inpaint, "MAX_BLEND_PIXELS", 500)
    reduced = paste_back(astronaut, alignment, brighter, mask, CompletionConfig())
    hole = photo_fill(astronaut.shape, alignment, mask)
    np.testing.assert_array_equal(reduced[~hole], astronaut[~hole])
    assert np.abs(reduced[hole].astype(float) - full[hole]).mean() < 10  # coarser, but the same fill


def test_a_time_budget_stops_the_search_and_still_returns_a_blended_face(tiny_model):
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=3)).numpy()[0])
    config = CompletionConfig(iterations=400, report_every=5, init_pool=16, tune_steps=2)
    request = FillRequest(face, center_mask(16))
    ((done,),) = complete_faces(FaceFiller(tiny_model), [request], config, seconds=0.0)
    assert done.iterations == 5  # stopped at the first report
    assert done.completed.shape == (16, 16, 3) and len(done.frames) == 1
    ((full,),) = complete_faces(FaceFiller(tiny_model), [request], replace(config, iterations=10))
    assert full.iterations == 10


def test_fine_tuning_is_safe_when_completions_run_at_once(tiny_model):
    """Completions share one FaceFiller (and its one copy of G): two at once get what each gets alone."""
    import threading

    filler = FaceFiller(tiny_model)
    faces = np.clip(tiny_model.generator(sample_z(2, tiny_model.config.z_dim, seed=8)).numpy() + 0.2, -1, 1)
    config = CompletionConfig(iterations=5, init_pool=4, tune_steps=30, tune_learning_rate=1e-2, blend=False)
    alone = [filler.complete(face[None], center_mask(16), config).generated for face in faces]
    together = [None, None]

    def run(i):
        together[i] = filler.complete(faces[i][None], center_mask(16), config).generated

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for a, b in zip(alone, together):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_fills_to_choose_from_are_other_faces_pasted_into_the_same_hole(tiny_model, astronaut, alignment):
    filler = FaceFiller(tiny_model)
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=3)).numpy()[0])
    small = alignment.__class__(face, alignment.matrix / 4, alignment.landmarks)
    mask = center_mask(16)
    shown_first = []
    (fills,) = complete_faces(filler, [FillRequest(face, mask, astronaut, small)], FAST, 3,
                              on_first=shown_first.append)
    assert len(fills) == 3 and shown_first == [[fills[0]]]  # the first is shown before the others are made
    assert not any("pasted" in vars(fill) for fill in fills)  # a fill is pasted into the photo when it is shown
    hole = photo_fill(astronaut.shape, small, mask)
    for fill in fills:
        np.testing.assert_array_equal(fill.pasted[~hole], astronaut[~hole])
    in_hole = [f.generated[mask.fill].astype(float) for f in fills]  # each its own face, not copies of one
    assert min(np.abs(a - b).mean() for i, a in enumerate(in_hole) for b in in_hole[i + 1:]) > 0.25
    with pytest.raises(ValueError, match="fills must be"):
        complete_faces(filler, [FillRequest(face, mask)], FAST, MAX_VARIANTS + 1)


def test_the_first_fill_offered_is_the_single_fill(tiny_model):
    filler = FaceFiller(tiny_model)
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=3)).numpy()[0])
    request = FillRequest(face, center_mask(16))
    ((single,),) = complete_faces(filler, [request], FAST)
    (fills,) = complete_faces(filler, [request], FAST, 4)
    np.testing.assert_array_equal(fills[0].completed, single.completed)


def test_the_other_fills_never_start_at_the_encoders_guess(tiny_model):
    import tensorflow as tf

    from core.weights import TrainedModel

    z0 = sample_z(1, tiny_model.config.z_dim, seed=11)
    face = tiny_model.generator(z0).numpy()  # the guess below draws this face exactly: it wins any pool

    def encoder(inputs, training=False):
        return tf.repeat(z0, tf.shape(inputs)[0], axis=0)

    model = TrainedModel(tiny_model.config, tiny_model.generator, tiny_model.discriminator, {}, encoder)
    filler = FaceFiller(model)
    mask = center_mask(16)
    known = tf.constant(mask.known[None, ..., None].astype(np.float32))
    filler.search.networks(FAST.precision)  # as complete() does first
    ((pool, guess),) = filler.search.ranked_pool(tf.constant(face), known, known, FAST, 1, 3)
    assert guess == 0 and np.abs(pool[0] - z0[0]).max() < 1e-6
    starts = other_starts(pool, guess, taken=1, count=2)
    assert np.abs(starts - z0.numpy()).max(axis=1).min() > 0.1  # not the guess, and not one z twice
    assert np.abs(starts[0] - starts[1]).max() > 0.1
    random = sample_z(FAST.init_pool, tiny_model.config.z_dim, FAST.seed * 7919).numpy()
    assert all(np.abs(random - start).max(axis=1).min() < 1e-6 for start in starts)  # from the same pool
    # A guess that ranks below the first fill's starts is skipped too.
    np.testing.assert_array_equal(other_starts(pool, 2, taken=1, count=2), pool[[1, 3]])


def test_a_faces_pool_of_starts_is_the_same_alone_or_in_a_batch(tiny_model):
    filler = FaceFiller(tiny_model)
    faces = to_uint8(tiny_model.generator(sample_z(2, tiny_model.config.z_dim, seed=8)).numpy())
    config = replace(FAST, iterations=1, tune_steps=0, blend=False)
    alone = filler.complete(faces[1:], center_mask(16), config).pools
    batch = filler.complete(faces, center_mask(16), config).pools
    np.testing.assert_allclose(batch[1][0], alone[0][0])


def recorded_starts(filler: FaceFiller, monkeypatch) -> list[np.ndarray]:
    """The z each call of filler's search starts from, appended as the calls come."""
    starts, search = [], filler.search.iterate

    def recorded(z, *args):
        starts.append(z.numpy())
        return search(z, *args)

    monkeypatch.setattr(filler.search, "iterate", recorded)
    return starts


def test_the_other_fills_start_from_the_first_fills_pool_without_scoring_it_again(tiny_model, monkeypatch):
    filler = FaceFiller(tiny_model)
    faces = to_uint8(tiny_model.generator(sample_z(2, tiny_model.config.z_dim, seed=9)).numpy())
    first = filler.complete(faces, center_mask(16), FAST, keep_tuned=True)
    scored = []
    monkeypatch.setattr(filler.search, "fit_only", lambda *args: scored.append(args))
    starts = recorded_starts(filler, monkeypatch)
    filler.other_fills(faces, center_mask(16), first, 3, FAST)
    assert not scored
    for face, (pool, guess) in enumerate(first.pools):
        np.testing.assert_array_equal(starts[0][3 * face : 3 * face + 3], other_starts(pool, guess, 1, 3))


def test_spread_starts_takes_each_candidate_farthest_from_the_first_fill_and_those_taken():
    holes = np.array([0.1, 5.0, 4.9, -4.0, 0.2, 5.0])[:, None]  # what each candidate draws in a one-pixel hole
    # 5.0 first (the better fit of the two at 5.0), then -4.0, then 0.2 (4.9 lies 0.1 from the 5.0 taken)
    np.testing.assert_array_equal(spread_starts(holes, np.zeros(1), 3), [1, 3, 4])
    with pytest.raises(ValueError):
        spread_starts(holes, np.zeros(1), 7)


def test_the_other_fills_can_start_apart_among_the_pools_best_fits(tiny_model, monkeypatch):
    filler = FaceFiller(tiny_model)
    faces = to_uint8(tiny_model.generator(sample_z(2, tiny_model.config.z_dim, seed=9)).numpy())
    config = replace(FAST, start_candidates=6)
    first = filler.complete(faces, center_mask(16), config, keep_tuned=True)
    starts = recorded_starts(filler, monkeypatch)
    filler.other_fills(faces, center_mask(16), first, 3, config)
    hole = center_mask(16).fill
    first_drawn = filler.search.draw(tf.constant(first.z), config.precision).numpy()
    for face, (pool, guess) in enumerate(first.pools):
        candidates = other_starts(pool, guess, 1, 6)
        drawn = filler.search.draw(tf.constant(candidates), config.precision).numpy()
        chosen = candidates[spread_starts(drawn[:, hole], first_drawn[face][hole], 3)]
        np.testing.assert_allclose(starts[0][3 * face : 3 * face + 3], chosen)
        assert not np.allclose(chosen, candidates[:3])  # not simply the best fits


def test_the_other_fills_search_their_own_steps_and_are_drawn_by_the_first_fills_g(tiny_model):
    filler = FaceFiller(tiny_model)
    faces = tiny_model.generator(sample_z(2, tiny_model.config.z_dim, seed=5)).numpy()
    config = replace(FAST, iterations=12, variant_iterations=4, tune_steps=5, tune_learning_rate=1e-2, blend=False)
    first = filler.complete(faces, center_mask(16), config, keep_tuned=True)
    others = filler.other_fills(faces, center_mask(16), first, 3, config)
    assert others.iterations == 4 and others.z.shape == (6, tiny_model.config.z_dim)
    for face in range(2):  # each face's own G', not G, and not the other face's G'
        rows = slice(3 * face, 3 * face + 3)
        drawn = filler.generate_with(first.tuned[face], others.z[rows])
        np.testing.assert_allclose(others.generated[rows], drawn, atol=1e-5)
        assert np.abs(others.generated[rows] - filler.generator(others.z[rows]).numpy()).max() > 1e-3
    with pytest.raises(ValueError, match="keep_tuned"):
        filler.other_fills(faces, center_mask(16), filler.complete(faces, center_mask(16), config), 3, config)


def test_diversity_pushes_the_other_fills_apart_in_the_hole(tiny_model):
    filler = FaceFiller(tiny_model)
    face = to_uint8(tiny_model.generator(sample_z(1, tiny_model.config.z_dim, seed=3)).numpy())
    mask = center_mask(16)
    config = replace(FAST, variant_iterations=30, tune_steps=0, blend=False)
    first = filler.complete(face, mask, config)

    def spread(diversity: float) -> float:
        holes = filler.other_fills(face, mask, first, 3, replace(config, diversity=diversity)).generated[:, mask.fill]
        compared = [first.generated[0][mask.fill], *holes]
        return float(np.mean([np.abs(a - b).mean() for i, a in enumerate(compared) for b in compared[i + 1:]]))

    assert spread(5.0) > 1.2 * spread(0.0)


def test_how_far_apart_fills_are_counts_the_hole_only_and_caps_each_difference():
    import tensorflow as tf

    from core.search import APART_CAP, Repulsion, apart

    hole = np.zeros((1, 4, 4, 1), np.float32)
    hole[0, :2, :2] = 1  # 4 pixels, 12 values
    first = np.zeros((1, 4, 4, 3), np.float32)
    others = np.stack([np.full((4, 4, 3), 0.1), np.full((4, 4, 3), 0.1 + 2 * APART_CAP)]).astype(np.float32)
    others[:, 3, 3] = 9.0  # outside the hole: never counted
    summed = apart(tf.constant(others), Repulsion(tf.constant(first), tf.constant(hole))).numpy()
    # Each against the first fill and the other, averaged over the two: the larger differences capped.
    np.testing.assert_allclose(summed, [12 * (0.1 + APART_CAP) / 2, 12 * (APART_CAP + APART_CAP) / 2], rtol=1e-5)


@pytest.mark.parametrize("blend", [True, False])
def test_a_fill_smaller_than_the_face_is_enlarged_into_its_hole(blend):
    """A 16 px model's fill in a 32 px face (core.evaluate compares models of different sizes this way)."""
    face = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    generated = np.zeros((16, 16, 3), np.float32)
    generated[:, 8:] = 1.0  # black left half, white right half
    mask = center_mask(32)
    filled = blend_in(face, generated, mask, replace(CompletionConfig(), blend=blend, colour_fit=False))
    assert filled.shape == face.shape
    np.testing.assert_array_equal(filled[~mask.fill], face[~mask.fill])
    rows = filled[10:22].astype(int)  # inside the hole: the fill's step from black to white, at the face's scale
    assert (rows[:, 17] - rows[:, 14]).mean() > 100 and abs((rows[:, 22] - rows[:, 18]).mean()) < 60


def axis_directions(z_dim: int, names: tuple[str, ...]) -> Directions:
    """One direction per name, each along its own axis of z."""
    bank = np.random.default_rng(0).uniform(-1, 1, (20, z_dim)).astype(np.float32)
    return Directions(list(names), np.eye(z_dim, dtype=np.float32)[: len(names)], bank,
                      np.full((20, len(ATTRIBUTES)), np.nan))


def edits_as_shown(filler: FaceFiller, first, row: int, face: np.ndarray, mask, config: CompletionConfig,
                   candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What other_fills makes of each candidate z for face (first's row): drawn by the first fill's G' (G without
    tuning) in the photo's colours, in [0, 255], and blended into the face (uint8)."""
    drawn = filler.generate_with(first.tuned[row] if config.tune_steps else None, candidates)
    kept = within_photo_colours((drawn + 1) * 127.5, to_uint8(first.generated[row]), face, mask.fill)
    return kept, blend_in(face, kept / 127.5 - 1, mask, config)


def test_with_directions_the_other_fills_are_the_first_edited_and_farthest_apart(tiny_model):
    z_dim = tiny_model.config.z_dim
    filler = FaceFiller(tiny_model, axis_directions(z_dim, ("smile", "age", "yaw")))
    faces = to_uint8(tiny_model.generator(sample_z(2, z_dim, seed=5)).numpy())
    mask = center_mask(16)
    config = replace(FAST, tune_steps=3, variant_edit=1.5, variant_directions=("smile", "age", "mouth_open"),
                     variant_realism=0.5)
    first = filler.complete(faces, mask, config, keep_tuned=True)
    others = filler.other_fills(faces, mask, first, 2, config)
    assert others.z.shape == (4, z_dim) and others.iterations == 0  # edits: no search
    axes = np.eye(z_dim, dtype=np.float32)
    # the candidates: smile and age (yaw is not asked for, mouth_open not measured), both ways, and both at once
    moves = 1.5 * np.stack([axes[0], -axes[0], axes[1], -axes[1], *(s * axes[0] + t * axes[1]
                                                                   for s in (1, -1) for t in (1, -1))])
    for face in range(2):
        candidates = first.z[face] + moves
        rows = others.z[2 * face : 2 * face + 2]
        index = [int(np.argmin(np.abs(candidates - row).max(axis=1))) for row in rows]
        np.testing.assert_allclose(candidates[index], rows, atol=1e-5)
        assert index[0] != index[1]
        # each drawn by the first fill's G', in the hole in colours the photo has
        kept, shown = edits_as_shown(filler, first, face, faces[face], mask, config, candidates)
        np.testing.assert_allclose(others.generated[2 * face : 2 * face + 2], kept[index] / 127.5 - 1, atol=1e-4)
        # chosen among the half of those with detail that D finds most real, the first the farthest from the first
        # fill, as blended
        first_shown = blend_in(faces[face], first.generated[face], mask, config)
        hole = mask.fill > 0
        detail = np.array([detail_energy(each, hole) for each in shown])
        sharp = np.flatnonzero(detail >= 0.5 * detail_energy(first_shown, hole))
        assert len(sharp) >= 2
        realism = tiny_model.discriminator(to_model(shown[sharp]), training=False).numpy()[:, 0]
        real = set(sharp[np.argsort(-realism)[: max(2, int(np.ceil(len(sharp) / 2)))]])
        assert set(index) <= real
        apart = {j: np.abs(shown[j][hole] - first_shown[hole].astype(float)).mean() for j in real}
        assert apart[index[0]] == max(apart.values())


def test_d_decides_which_edits_the_other_fills_are_chosen_among(tiny_model):
    """With the share D keeps no larger than the fills asked for, they are the edits D scores highest."""
    z_dim = tiny_model.config.z_dim
    filler = FaceFiller(tiny_model, axis_directions(z_dim, ("smile", "age", "yaw")))
    face = to_uint8(tiny_model.generator(sample_z(1, z_dim, seed=6)).numpy())
    mask = center_mask(16)
    config = replace(FAST, tune_steps=0, variant_edit=1.5, variant_directions=("smile", "age", "yaw"),
                     variant_realism=0.01, variant_detail=0.0)
    first = filler.complete(face, mask, config)
    others = filler.other_fills(face, mask, first, 2, config)
    edits = filler.variant_edits(config)
    candidates = np.stack([filler.directions.edit(first.z[0], edit) for edit in edits])
    _, shown = edits_as_shown(filler, first, 0, face[0], mask, config, candidates)
    realism = tiny_model.discriminator(to_model(shown), training=False).numpy()[:, 0]
    best = candidates[np.argsort(-realism)[:2]]
    assert all(np.abs(best - row).max(axis=1).min() < 1e-5 for row in others.z)


def test_the_other_fills_offered_are_not_smoother_than_the_first_allows(tiny_model):
    """An edit with less than variant_detail of the first fill's fine detail in the hole is a smear: not offered
    while enough others have it; when too few have it, the most detailed are."""
    z_dim = tiny_model.config.z_dim
    filler = FaceFiller(tiny_model, axis_directions(z_dim, ("smile", "age", "yaw")))
    face = to_uint8(tiny_model.generator(sample_z(1, z_dim, seed=7)).numpy())
    mask = center_mask(16)
    hole = mask.fill > 0
    base = replace(FAST, tune_steps=0, variant_edit=1.5, variant_directions=("smile", "age", "yaw"),
                   variant_realism=1.0)
    first = filler.complete(face, mask, base)
    first_detail = detail_energy(blend_in(face[0], first.generated[0], mask, base), hole)
    candidates = np.stack([filler.directions.edit(first.z[0], edit) for edit in filler.variant_edits(base)])
    _, shown = edits_as_shown(filler, first, 0, face[0], mask, base, candidates)
    detail = np.array([detail_energy(each, hole) for each in shown])
    share = float(np.sort(detail)[-3] / first_detail)  # three candidates have at least this share of the detail
    for variant_detail, wanted in ((share, detail >= share * first_detail), (1e9, detail >= np.sort(detail)[-2])):
        others = filler.other_fills(face, mask, first, 2, replace(base, variant_detail=variant_detail))
        index = [int(np.argmin(np.abs(candidates - row).max(axis=1))) for row in others.z]
        assert all(wanted[index]), (variant_detail, detail[index], first_detail)


def test_without_directions_or_with_variant_edit_off_the_other_fills_are_searched_for(tiny_model):
    z_dim = tiny_model.config.z_dim
    face = to_uint8(tiny_model.generator(sample_z(1, z_dim, seed=5)).numpy())
    config = replace(FAST, variant_iterations=3)
    for filler, settings in ((FaceFiller(tiny_model), config),
                             (FaceFiller(tiny_model, axis_directions(z_dim, ("smile",))), config),  # 2 edits < 3
                             (FaceFiller(tiny_model, axis_directions(z_dim, ("smile", "age"))),
                              replace(config, variant_edit=0.0))):
        first = filler.complete(face, center_mask(16), settings, keep_tuned=True)
        assert filler.other_fills(face, center_mask(16), first, 3, settings).iterations == 3


def test_the_edits_the_other_fills_choose_among_are_checked_settings():
    assert CompletionConfig(variant_directions=["smile", "age"]).variant_directions == ("smile", "age")  # a card's list
    for wrong in ({"variant_directions": "smile"}, {"variant_directions": [1]}, {"variant_edit": -1.0},
                  {"variant_edit": float("nan")}, {"variant_directions_per_edit": 0},
                  {"variant_directions_per_edit": 1.5}, {"variant_realism": 0.0}, {"variant_realism": 1.5},
                  {"variant_realism": float("nan")}, {"variant_detail": -0.1},
                  {"variant_detail": float("inf")}):
        with pytest.raises(ValueError, match="variant_"):
            CompletionConfig(**wrong)


def test_edits_along_two_directions_at_once_add_every_pair_every_way(tiny_model):
    z_dim = tiny_model.config.z_dim
    filler = FaceFiller(tiny_model, axis_directions(z_dim, ("smile", "age", "yaw")))
    config = replace(FAST, variant_edit=1.5, variant_directions=("smile", "age", "yaw", "mouth_open"))
    singles = filler.variant_edits(replace(config, variant_directions_per_edit=1))
    edits = filler.variant_edits(replace(config, variant_directions_per_edit=2))
    assert edits[: len(singles)] == singles and len(singles) == 6  # the single edits first, as before
    pairs = edits[len(singles) :]
    assert len(pairs) == 12 and all(len(edit) == 2 and set(map(abs, edit.values())) == {1.5} for edit in pairs)
    assert {tuple(sorted(edit.items())) for edit in pairs} == {
        ((a, s * 1.5), (b, t * 1.5)) for a, b in (("age", "smile"), ("smile", "yaw"), ("age", "yaw"))
        for s in (1, -1) for t in (1, -1)}
