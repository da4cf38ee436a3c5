"""Semantic inpainting (Yeh et al.): the search on z (core.search), then G tuned to the face (core.tuning).

    z^ = argmin_z  ||W * (G(z) - y)||_1  +  lam * log(1 - D(G(z)))      (z clipped to [-1, 1])
    G' = G fine-tuned for a few steps on the known pixels of this image, from z^
    fill = G'(z^), which core.inpaint blends into the hole and pastes back into the photo

Fills to choose from (other_fills) are the first fill edited along the model's measured directions, one or two at
once (a smile, none, older and a smile...), drawn by the first fill's G' in the photo's colours, and of those with
fine detail that D finds most real, the ones farthest apart in the blended hole. Without directions they start at other z of the first
fill's pool and search a few steps with a reward for lying apart in the hole.

The command-line tool is core.complete; the Inpaint page and the tool share core.inpaint.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from core.blend import blend_in, within_photo_colours
from core.config import CompletionConfig
from core.detail import detail_energy
from core.directions import Directions
from core.encoder import encoder_input
from core.images import to_model, to_uint8
from core.masks import Mask, MaskError, center_mask
from core.model import sample_z
from core.search import Repulsion, ZSearch, contextual_weights, hyperparameters, other_starts, pick, spread_starts
from core.tuning import GTuner, Offsets
from core.weights import TrainedModel

# callback(iteration, loss per image, current completion per image in [-1, 1]) -> False to stop
ProgressCallback = Callable[[int, np.ndarray, np.ndarray], "bool | None"]


@dataclass
class Completion:
    """Completions of N images (float32 in [-1, 1] unless noted)."""

    z: np.ndarray  # (N, z_dim) the chosen z^
    generated: np.ndarray  # (N, H, W, 3) G(z^), by the per-image fine-tuned G when tune_steps > 0: the fill
    loss: np.ndarray  # (N,) total loss of z^
    contextual: np.ndarray  # (N,)
    perceptual: np.ndarray  # (N,)
    restart_losses: np.ndarray  # (N, restarts) best total loss of each start
    iterations: int
    history: list[tuple[int, float]] = field(default_factory=list)  # (iteration, mean best loss)
    # Per image, the offsets of its fine-tuned G' from G, when complete() was asked to keep them: other_fills draws
    # with them.
    tuned: list[Offsets] | None = None
    # Per image, its pool of starts ranked by fit and where the encoder's guess ranks in it (ZSearch.ranked_pool):
    # other_fills draws its starts from it without scoring the pool again.
    pools: list[tuple[np.ndarray, int | None]] | None = None


class FaceFiller:
    """Completion for one trained model: the search on z (self.search) and the tuning of G (self.tuner), warmed up
    once (warm_up). Reuse it across calls: traces are cached per shape."""

    def __init__(self, model: TrainedModel, directions: Directions | None = None):
        self.model = model
        self.directions = directions  # the model's measured directions (core.directions), for the other fills
        self.generator = model.generator
        self.z_dim = model.config.z_dim
        self.size = model.config.image_size
        self.search = ZSearch(model)
        self.tuner = GTuner(model)
        self._warming = threading.RLock()  # held by warm_up for its whole run (see _after_warm_up)

    def tuned_weights(self, z: np.ndarray, face: np.ndarray, config: CompletionConfig) -> Offsets:
        """G tuned for config.tune_steps steps to draw one whole face (uint8) from z, as offsets from G: pivotal
        tuning (core.tuning), for edits that keep the person. A user session keeps them."""
        self._after_warm_up()
        y = tf.constant(to_model(face)[None])
        with self.tuner.lock:
            self.tuner.fit(tf.constant(z[None], tf.float32), y, tf.ones_like(y[..., :1]), config, 1)
            return self.tuner.offsets()

    def generate_with(self, offsets: Offsets | None, z: np.ndarray) -> np.ndarray:
        """G(z) in [-1, 1] drawn by G tuned to these offsets (tuned_weights), or by G itself when None."""
        return self.tuner.generate_with(offsets, z)

    def first_look(self, face: np.ndarray, mask: Mask) -> np.ndarray | None:
        """The encoder's guess at one aligned face (uint8) under mask, in the hole, in [-1, 1]: a picture to
        show at once while the search runs (a few milliseconds). None without an encoder or for a lowres mask."""
        if self.model.encoder is None or mask.lowres_factor > 1:
            return None
        y = tf.constant(to_model(face)[None])
        known = tf.constant(mask.known[None, ..., None].astype(np.float32))
        guess = self.generator(self.model.encoder(encoder_input(y, known), training=False), training=False)
        return np.where(mask.fill[..., None], guess.numpy()[0], y.numpy()[0])

    def warm_up(self) -> bool:
        """Trace the compiled functions a fill with the default settings calls, once each, for any number of faces
        (a batch dimension of None), so a user's first fill, and the other fills to choose from, run as fast as the
        ones after it. Seconds: call it off the request path (pages.common starts it in a thread). The arguments
        mirror complete()'s and other_fills()'s calls; a test checks that fills after it trace nothing.

        Stops between its steps once the process is ending (its main thread is over): a stopped server waits for
        the step in progress, not the whole warm-up. True when every step ran."""
        config = self.model.completion
        precision, s = config.precision, self.size

        def spec(*shape: int | None, dtype: tf.DType = tf.float32) -> tf.TensorSpec:
            return tf.TensorSpec(shape, dtype)

        z, y, w, steps = spec(None, self.z_dim), spec(None, s, s, 3), spec(None, s, s, 1), spec(dtype=tf.int32)

        def tuner_moments() -> None:
            with self.tuner.lock:
                self.tuner.moments()

        def run_once() -> None:  # a function is optimised when it first runs, not when traced: run each once
            face = to_uint8(self.generator(sample_z(1, self.z_dim, seed=0), training=False).numpy()[0])
            quick = replace(config, iterations=2, variant_iterations=1, report_every=1, tune_steps=1)
            first = self.complete(face, center_mask(s), quick, lambda *report: None, keep_tuned=True)
            self.other_fills(face, center_mask(s), first, 1, quick)

        steps_in_order = [
            lambda: self.search.networks(precision),
            tuner_moments,
            lambda: self.search.fit_only.get_concrete_function(z, y, w, 1, precision),
            *(lambda away=away: self.search.iterate.get_concrete_function(
                z, z, z, spec(), z, spec(None), y, w, steps, spec(7), config.optimizer, 1, precision, away)
              for away in [None] + [Repulsion(y, w)] * (not self.variant_edits(config))),  # other fills searched for
            lambda: self.search.draw.get_concrete_function(z, precision),
            *([lambda: self.search.realism.get_concrete_function(y, precision)] * bool(self.variant_edits(config))),
            lambda: self.search.evaluate.get_concrete_function(z, y, w, config.lam, 1, precision),
            lambda: self.tuner.steps.get_concrete_function(z, y, w, steps, spec(), 1),
            run_once,
        ]
        with self._warming:
            for step in steps_in_order:
                if not threading.main_thread().is_alive():
                    return False
                step()
        return True

    def _after_warm_up(self) -> None:
        """Wait for a warm-up in progress in another thread. Its traces are the caller's anyway, and two threads
        tracing at once race: autograph parses the functions' source into Python AST objects, whose recursion
        CPython 3.11 counts once per interpreter ("SystemError: AST constructor recursion depth mismatch")."""
        with self._warming:
            pass

    def _inputs(self, images: np.ndarray, masks: Mask | Sequence[Mask], config: CompletionConfig):
        """Checked inputs of a completion as tensors: faces y in [-1, 1], known pixels, contextual weights, their
        masks and the masks' shared lowres factor."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[1:] != (self.size, self.size, 3):
            raise ValueError(f"Expected aligned faces of shape (N, {self.size}, {self.size}, 3), got {images.shape}.")
        y = to_model(images) if images.dtype == np.uint8 else images.astype(np.float32)
        if not np.isfinite(y).all():
            raise ValueError("The images hold NaN or infinite values.")
        masks = [masks] * len(y) if isinstance(masks, Mask) else list(masks)
        if len(masks) != len(y):
            raise MaskError(f"{len(masks)} masks for {len(y)} images.")
        for mask in masks:
            if mask.known.shape != (self.size, self.size):
                raise MaskError(f"A mask is {mask.known.shape}, the model's images are {self.size}x{self.size}.")
        factors = {mask.lowres_factor for mask in masks}
        if len(factors) > 1:
            raise MaskError("Low-resolution and pixel masks cannot be mixed in one call.")
        known = tf.constant(np.stack([mask.known for mask in masks])[..., None].astype(np.float32))
        w = tf.constant(np.stack([contextual_weights(mask, config.weighted) for mask in masks]))
        return tf.constant(y), known, w, masks, factors.pop()

    def complete(
        self,
        images: np.ndarray,
        masks: Mask | Sequence[Mask],
        config: CompletionConfig | None = None,
        callback: ProgressCallback | None = None,
        keep_tuned: bool = False,
    ) -> Completion:
        """Fill N aligned faces (N, S, S, 3; uint8 or float in [-1, 1]) under their masks.

        Each starts at the best fits of its pool (config.restarts of them; the encoder's guess among them), searches
        config.iterations steps, and the lowest loss wins; G is then tuned to it (config.tune_steps). keep_tuned:
        keep each face's tuned G', for other_fills. config None: the model's own defaults (TrainedModel.completion).
        """
        config = self.model.completion if config is None else config
        self._after_warm_up()
        self.search.networks(config.precision)
        y, known, w, masks, factor = self._inputs(images, masks, config)
        n, k = len(y), config.restarts
        pools = None
        if config.init_pool:
            pools = self.search.ranked_pool(y, known, w, config, factor, k)
            z = tf.constant(np.concatenate([pool[:k] for pool, _ in pools]))
        else:
            z = sample_z(n * k, self.z_dim, config.seed)
        y_k, w_k = tf.repeat(y, k, axis=0), tf.repeat(w, k, axis=0)
        hp = hyperparameters(config)
        m = v = tf.zeros_like(z)
        t = tf.constant(0.0)
        best_z, best_loss = z, tf.fill([n * k], np.float32(np.inf))
        fill = np.stack([mask.fill for mask in masks])[..., None]
        history: list[tuple[int, float]] = []
        done = 0
        while done < config.iterations:
            chunk = min(config.report_every, config.iterations - done)
            z, m, v, t, best_z, best_loss = self.search.iterate(
                z, m, v, t, best_z, best_loss, y_k, w_k, tf.constant(chunk), hp, config.optimizer, factor,
                config.precision,
            )
            done += chunk
            per_image = tf.reshape(best_loss, (n, k)).numpy()
            history.append((done, float(per_image.min(axis=1).mean())))
            if callback is not None:
                preview = self.search.draw(pick(best_z, per_image), config.precision).numpy()
                if callback(done, per_image.min(axis=1), np.where(fill, preview, y.numpy())) is False:
                    break

        restart_losses = tf.reshape(best_loss, (n, k)).numpy()
        z_hat = pick(best_z, restart_losses)
        loss, contextual, perceptual, generated = (
            a.numpy() for a in self.search.evaluate(z_hat, y, w, config.lam, factor, config.precision))
        tuned = None
        if config.tune_steps:
            generated, tuned = self.tuner.tuned_generate(z_hat, y, w, config, factor, keep_tuned)
        return Completion(z_hat.numpy(), generated, loss, contextual, perceptual, restart_losses, done, history, tuned,
                          pools)

    def other_fills(self, images: np.ndarray, masks: Mask | Sequence[Mask], first: Completion, count: int,
                    config: CompletionConfig | None = None) -> Completion:
        """count more fills of each face that first filled (complete with keep_tuned), to choose from; the
        Completion holds N * count fills, each face's in a row.

        Each is drawn by the first fill's G', so it fits the known pixels as closely. With directions (and
        config.variant_edit), they are the first fill's z edited along them, the edits farthest apart in the blended
        hole among those with detail that D finds most real (_edited_fills); searching on from the edits (10 steps) made them less
        different for 0.2 dB closer to the truth (docs/performance.md). Else each starts at another of the first
        fill's pool's best fits (never the encoder's guess, which the first fill had) and searches
        config.variant_iterations steps pushed apart in the hole (config.diversity) from the face's first fill and its
        other fills: they need only be plausible and different.
        """
        config = self.model.completion if config is None else config
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a whole number >= 1, got {count!r}")
        self._after_warm_up()
        self.search.networks(config.precision)
        y, known, w, masks, factor = self._inputs(images, masks, config)
        if len(first.z) != len(y):
            raise ValueError(f"first holds {len(first.z)} fills for {len(y)} faces.")
        if config.tune_steps and first.tuned is None:
            raise ValueError("other_fills draws by the first fill's fine-tuned G: call complete with keep_tuned=True.")
        y_c, w_c = tf.repeat(y, count, axis=0), tf.repeat(w, count, axis=0)
        edits = self.variant_edits(config)
        if len(edits) >= count:
            z, drawn = self._edited_fills(to_uint8(y.numpy()), masks, first, count, config, edits)
            loss, contextual, perceptual, _ = (
                a.numpy() for a in self.search.evaluate(z, y_c, w_c, config.lam, factor, config.precision))
            return Completion(z.numpy(), drawn, loss, contextual, perceptual, loss[:, None], 0)
        n = len(y) * count
        away = Repulsion(self.search.draw(tf.constant(first.z), config.precision),
                         tf.constant(np.stack([mask.fill for mask in masks])[..., None].astype(np.float32)))
        z = self._pool_starts(y, known, w, masks, factor, first, away, count, config)
        m = v = tf.zeros_like(z)
        _, _, _, _, z_hat, best = self.search.iterate(
            z, m, v, tf.constant(0.0), z, tf.fill([n], np.float32(np.inf)), y_c, w_c,
            tf.constant(config.variant_iterations), hyperparameters(config), config.optimizer, factor,
            config.precision, away,
        )
        loss, contextual, perceptual, generated = (
            a.numpy() for a in self.search.evaluate(z_hat, y_c, w_c, config.lam, factor, config.precision))
        if config.tune_steps:
            generated = np.concatenate([self.tuner.generate_with(first.tuned[i], z_hat[i * count : (i + 1) * count])
                                        for i in range(len(y))])
        return Completion(z_hat.numpy(), generated, loss, contextual, perceptual, best.numpy()[:, None],
                          config.variant_iterations)

    def _pool_starts(self, y: tf.Tensor, known: tf.Tensor, w: tf.Tensor, masks: list[Mask], factor: int,
                     first: Completion, away: Repulsion, count: int, config: CompletionConfig) -> tf.Tensor:
        """(N * count, z) starts of the other fills' search: other best fits of each face's pool (never the encoder's
        guess), spread apart in the hole (from away's first fills) among config.start_candidates of them; random z
        without a pool."""
        n, k = len(y) * count, config.restarts
        if not config.init_pool:
            return sample_z(n, self.z_dim, config.seed + 1)
        candidates = max(count, config.start_candidates)
        pools = first.pools
        if pools is None or min(len(pool) - (guess is not None) for pool, guess in pools) < k + candidates:
            pools = self.search.ranked_pool(y, known, w, config, factor, k + candidates)
        z = np.stack([other_starts(pool, guess, k, candidates) for pool, guess in pools])  # (N, candidates, z)
        if candidates > count:
            drawn = self.search.draw(tf.constant(z.reshape(-1, self.z_dim)), config.precision).numpy()
            drawn = drawn.reshape(len(y), candidates, *drawn.shape[1:])
            first_drawn = away.first.numpy()
            z = np.stack([z[i][spread_starts(drawn[i][:, mask.fill > 0], first_drawn[i][mask.fill > 0], count)]
                          for i, mask in enumerate(masks)])
        return tf.constant(z.reshape(n, self.z_dim))

    def variant_edits(self, config: CompletionConfig) -> list[dict[str, float]]:
        """The edits other_fills chooses among: along each of config.variant_directions the model has, and each set of
        up to config.variant_directions_per_edit of them at once, every way by config.variant_edit; none without
        directions or with variant_edit 0."""
        if self.directions is None or not config.variant_edit:
            return []
        names = [name for name in config.variant_directions if name in self.directions.names]
        return [{name: sign * config.variant_edit for name, sign in zip(chosen, signs)}
                for count in range(1, config.variant_directions_per_edit + 1)
                for chosen in itertools.combinations(names, count)
                for signs in itertools.product((1, -1), repeat=count)]

    def _edited_fills(self, faces: np.ndarray, masks: list[Mask], first: Completion, count: int,
                      config: CompletionConfig, edits: list[dict[str, float]]) -> tuple[tf.Tensor, np.ndarray]:
        """Each face's first z moved by every edit and drawn by its G' (or G), in colours the photo has round the hole
        (core.blend.within_photo_colours), and blended in as it will be shown. Of those with at least
        config.variant_detail of the first fill's fine detail in the hole (no smears), the share config.variant_realism
        that D scores most real; of those, the count farthest apart in the hole from the first fill and each other,
        one by one (core.search.spread_starts): (N * count, z) and their drawings, in [-1, 1]."""
        chosen_z, chosen = [], []
        for i, mask in enumerate(masks):
            z = np.stack([self.directions.edit(first.z[i], edit) for edit in edits])
            drawn = (self.generate_with(first.tuned[i] if config.tune_steps else None, z) + 1) * 127.5
            drawn = within_photo_colours(drawn, to_uint8(first.generated[i]), faces[i], mask.fill) / 127.5 - 1
            shown = blend_in(faces[i], drawn, mask, config)
            first_shown = blend_in(faces[i], first.generated[i], mask, config)
            hole = mask.fill > 0
            detail = np.array([detail_energy(each, hole) for each in shown])
            sharp = np.flatnonzero(detail >= config.variant_detail * detail_energy(first_shown, hole))
            if len(sharp) < count:
                sharp = np.argsort(-detail)[:count]
            realism = self.search.realism(tf.constant(to_model(shown[sharp])), config.precision).numpy()
            kept = np.sort(sharp[np.argsort(-realism)[: max(count, int(np.ceil(config.variant_realism * len(sharp))))]])
            picked = kept[spread_starts(shown[kept][:, hole].astype(np.float32), first_shown[hole], count)]
            chosen_z.append(z[picked])
            chosen.append(drawn[picked])
        return tf.constant(np.concatenate(chosen_z)), np.concatenate(chosen).astype(np.float32)
