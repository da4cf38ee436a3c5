"""Configuration dataclasses with the defaults of DCGAN and of Yeh et al."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the DCGAN: G maps z in [-1,1]^z_dim to an image_size^2 RGB face."""

    image_size: int = 64
    z_dim: int = 100
    gf: int = 64  # generator width: the last transposed conv has gf filters
    df: int = 64  # discriminator width: the first conv has df filters
    # How far G's face is moved towards itself low-passed by a fixed [1, 2, 1] / 4 filter (0: not at all, 1: the
    # whole way). The last stride-2 transposed conv leaves a checkerboard at half the sampling rate that real
    # faces do not have; this takes half of it out. It has no weights, so any G's weights load at any strength.
    output_blur: float = 0.0

    def __post_init__(self) -> None:
        size = self.image_size
        if size < 8 or size & (size - 1):
            raise ValueError(f"image_size must be a power of two >= 8, got {size}")
        if self.z_dim < 1 or self.gf < 1 or self.df < 1:
            raise ValueError(f"z_dim, gf and df must be positive: {self}")
        if not 0 <= self.output_blur <= 1:
            raise ValueError(f"output_blur must be in [0, 1], got {self.output_blur}")

    def same_weights(self, other: "ModelConfig") -> bool:
        """Whether other's G and D have exactly this model's weights (output_blur has none)."""
        return replace(self, output_blur=other.output_blur) == other

    @property
    def n_scales(self) -> int:
        """Number of stride-2 layers between 4x4 and image_size (4 for 64x64)."""
        return self.image_size.bit_length() - 3

    def grown(self) -> "ModelConfig":
        """The model of twice the size that holds every layer of this one (progressive growing):
        one more block in G and D, at half the width, so the layers below keep their widths."""
        if self.gf % 2 or self.df % 2:
            raise ValueError(f"gf and df must be even to grow a model, got {self.gf} and {self.df}")
        return ModelConfig(self.image_size * 2, self.z_dim, self.gf // 2, self.df // 2, self.output_blur)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


PRECISIONS = ("float32", "mixed_bfloat16")


@cache
def native_bfloat16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX, read from Linux's /proc/cpuinfo). Elsewhere
    bfloat16 would be converted to and from float32 around every op, a speed not measured here: completion stays in
    float32 there."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass(frozen=True)
class TrainConfig:
    """DCGAN training settings (Radford et al.; G updated twice per D step)."""

    batch_size: int = 64
    learning_rate: float = 2e-4  # G's, and D's unless d_learning_rate is given
    d_learning_rate: float | None = None
    beta1: float = 0.5
    g_steps: int = 2
    steps: int = 6000
    log_every: int = 50
    sample_every: int = 250
    checkpoint_every: int = 250
    seed: int = 0
    # The exported G is an exponential moving average of G's weights (Karras et al.), with the
    # warm-up min(decay, (1 + t) / (10 + t)) so short runs follow G (not in a run --init-from a model of the same
    # size whose card says its G is already an average); 0 exports the raw G.
    ema_decay: float = 0.999
    # A run grown from a model of half the size (--init-from) fades its new blocks in over this many
    # steps (Karras et al.); 0: no fade, the new blocks start at full weight.
    fade_steps: int = 0
    # "mixed_bfloat16": G and D compute in bfloat16 with float32 weights (1.5x faster at 128 px on CPUs
    # with AVX512-BF16, benchmarks.train_step); the moving average and the exported G stay float32.
    precision: str = "float32"
    # One-sided label smoothing (Salimans et al. 2016): D's target for real faces is 1 - label_smoothing.
    label_smoothing: float = 0.0
    # Spectral normalisation of D's convs and logit (Miyato et al. 2018, keras.layers.SpectralNormalization).
    spectral_norm: bool = False
    # R1 penalty (Mescheder et al. 2018): r1_gamma / 2 times the squared norm of D's gradient on real faces is
    # added to D's loss, so D stays smooth around the data and G's gradient carries detail; 0: none (the paper).
    r1_gamma: float = 0.0

    def __post_init__(self) -> None:
        if self.d_learning_rate is None:
            object.__setattr__(self, "d_learning_rate", self.learning_rate)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not isinstance(self.fade_steps, int) or self.fade_steps < 0:
            raise ValueError(f"fade_steps must be a whole number >= 0, got {self.fade_steps!r}")
        for name in ("batch_size", "g_steps", "steps", "log_every", "sample_every", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if self.checkpoint_every % self.log_every or self.sample_every % self.log_every:
            raise ValueError(f"checkpoint_every ({self.checkpoint_every}) and sample_every ({self.sample_every}) "
                             f"must be multiples of log_every ({self.log_every})")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not self.learning_rate > 0 or not self.d_learning_rate > 0 or not 0 <= self.beta1 < 1:
            raise ValueError(f"learning rates must be > 0 and beta1 in [0, 1), got {self.learning_rate}, "
                             f"{self.d_learning_rate}, {self.beta1}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if not self.r1_gamma >= 0:
            raise ValueError(f"r1_gamma must be >= 0, got {self.r1_gamma}")


# Upper bounds that keep one request from holding the CPU for hours or exhausting memory.
LIMITS = {"iterations": 100_000, "variant_iterations": 100_000, "restarts": 256, "init_pool": 4096, "report_every": 100_000, "hmc_leapfrog": 100,
          "tune_steps": 1000, "start_candidates": 4096}

# Each optimiser's own default step size on z (for HMC, the leapfrog step). Adam's steps are
# normalised; momentum's scale with the gradient of the summed L1, so 0.03 would drive most
# of z to the clip bounds within 10 steps. Measured on 32 lfw-dev faces, centre mask.
STEP_SIZES = {"adam": 0.03, "momentum": 1e-4, "hmc": 0.01}


@dataclass(frozen=True)
class CompletionConfig:
    """Settings of the completion optimiser (Yeh et al. / Amos's write-up) and of the blend after it."""

    lam: float = 0.1  # weight of the perceptual (adversarial) loss
    # Faster than the seed's 1000 steps at lr 0.01 and as good: from the best start of the pool and the encoder's
    # guess, 50 steps at lr 0.03 fill lfw-dev as well as 100 after the fine-tuning of G ("thorough" below;
    # core.evaluate --configs default thorough); 30 lost 0.17 dB on strokes with 25 tuning steps. After the 128 px
    # model's 50 tuning steps 30 are as good or better, and its card sets them (weights/MODEL_CARD.md, "Search length").
    iterations: int = 50
    optimizer: str = "adam"  # adam | momentum | hmc
    learning_rate: float | None = None  # step size (HMC: leapfrog step); None: STEP_SIZES[optimizer]
    beta1: float = 0.9
    beta2: float = 0.999
    momentum: float = 0.9
    restarts: int = 1  # random starts per image; the lowest total loss wins
    # Fills to choose from (variants): after this many search steps only each face's first fill searches on; the
    # others need only be plausible and different, and the Poisson blend fits their border.
    variant_iterations: int = 25
    # How strongly the other fills' search pushes each apart in the hole from the first fill and from each other
    # (FaceFiller.other_fills): 0 leaves them where their own starts lead.
    diversity: float = 0.6
    # More than the fills asked for: the other fills start from this many of the pool's best fits, chosen one by one
    # farthest in the hole from the first fill and from each other (core.search.spread_starts); else the best fits.
    start_candidates: int = 0
    # Where the model has measured directions (core.directions), the other fills are its first fill edited this far
    # along each of variant_directions, both ways, and along each pair of them at once (variant_directions_per_edit),
    # drawn by its G' in colours the photo has (FaceFiller.other_fills): of those, the ones farthest apart in the
    # blended hole among those with detail (variant_detail) that D finds most real (variant_realism). On lfw-dev 1.25x
    # as different as one direction at a time, and as plausible (docs/performance.md). 0: always searched for. Mouth
    # open and head turn are left out: G draws an open mouth as a dark hole, and a turned face no longer lines up with
    # the photo round the hole.
    variant_edit: float = 2.0
    variant_directions: tuple[str, ...] = ("smile", "eyes_closed", "brows_raised", "age", "female")
    # An edit moves along up to this many of variant_directions at once (each by variant_edit, either way): 2 adds
    # every pair (a smile and older, ...) to the ten single edits.
    variant_directions_per_edit: int = 2
    # The other fills are chosen among the edits with at least this share of the first fill's fine detail in the
    # blended hole (core.detail.high_band's energy; a smear has a fifth), and of those, among the share
    # variant_realism that D scores most real: choosing farthest apart alone favours smears and torn moustaches.
    variant_detail: float = 0.5
    variant_realism: float = 0.5
    # >0: start from the best of this many random z (forward passes only); with the encoder's guess in the pool, 64 fill
    # lfw-dev as well as 256 at a quarter of the cost (0.08 s against 0.3 s a face).
    init_pool: int = 64
    use_encoder: bool = True  # add the encoder's guess to the pool, where the weights have one
    weighted: bool = False  # the paper's 7x7 weighted contextual loss
    # After z^: a few Adam steps on a per-image copy of G's weights fit the known pixels more
    # closely than any z can (Deep Generative Prior); small steps, so a large hole keeps G's face.
    # On 64 lfw-dev faces, 25 steps gave +1.2 dB (centre) and +1.1 dB (strokes) for 0.4 s a face;
    # lr 1e-3 lost 0.5 dB and SSIM to overfitting, 50-100 steps added under 0.2 dB.
    # At photo resolution 50 give the 128 px model +0.14 dB on strokes: its card asks for them (weights/MODEL_CARD.md).
    tune_steps: int = 25
    tune_learning_rate: float = 3e-4
    blend: bool = True  # Poisson blending of the filled region
    colour_fit: bool = True  # map G(z^)'s colours onto the known ring round the hole before blending
    # Scale of G's gradients in the Poisson solve (1 = plain Poisson cloning): 0.9 was best for
    # strokes, 0.7 for the centre by 0.17 dB but with a seam too smooth by 1.8 grey levels.
    guidance: float = 0.9
    # In a photo, replace the fill's finest band with the photo's own, copied where the photo looks like the fill
    # (core.detail): G's face is smooth next to the photo's skin, grain and edges.
    photo_detail: bool = True
    report_every: int = 50
    hmc_leapfrog: int = 5
    seed: int = 0
    # What G and D compute the search in (their weights stay float32; fine-tuning G is always float32). bfloat16 made
    # a 64 px fill 1.4x faster here (1.04 s against 1.43 s) and as good on lfw-dev (within 0.06 dB and 0.003 SSIM).
    # "auto": mixed_bfloat16 on a CPU that computes bfloat16 natively (native_bfloat16), else float32.
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.optimizer not in STEP_SIZES:
            raise ValueError(f"optimizer must be adam, momentum or hmc, got {self.optimizer!r}")
        if self.precision == "auto":
            object.__setattr__(self, "precision", "mixed_bfloat16" if native_bfloat16() else "float32")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be auto or one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.learning_rate is None:
            object.__setattr__(self, "learning_rate", STEP_SIZES[self.optimizer])
        for name in ("lam", "learning_rate", "beta1", "beta2", "momentum", "tune_learning_rate", "guidance", "diversity",
                     "variant_edit", "variant_realism", "variant_detail"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value == value and abs(value) != float("inf")):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if isinstance(self.variant_directions, str):
            raise ValueError(f"variant_directions must be a list of names, got {self.variant_directions!r}")
        object.__setattr__(self, "variant_directions", tuple(self.variant_directions))  # a card's JSON gives a list
        if not all(isinstance(name, str) for name in self.variant_directions):
            raise ValueError(f"variant_directions must be names of directions, got {self.variant_directions!r}")
        if self.variant_directions_per_edit not in (1, 2, 3):
            raise ValueError(f"variant_directions_per_edit must be 1, 2 or 3, got {self.variant_directions_per_edit!r}")
        for name in ("lam", "diversity", "variant_edit"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.learning_rate <= 0 or self.tune_learning_rate <= 0:
            raise ValueError(f"learning rates must be > 0, got {self.learning_rate} and {self.tune_learning_rate}")
        if not 0 <= self.guidance <= 1:
            raise ValueError(f"guidance must be from 0 to 1, got {self.guidance}")
        if not 0 < self.variant_realism <= 1:
            raise ValueError(f"variant_realism must be above 0 and at most 1, got {self.variant_realism}")
        if self.variant_detail < 0:
            raise ValueError(f"variant_detail must be >= 0, got {self.variant_detail}")
        for name, most in LIMITS.items():
            value = getattr(self, name)
            least = 0 if name in ("init_pool", "tune_steps", "start_candidates") else 1
            if not isinstance(value, int) or not least <= value <= most:
                raise ValueError(f"{name} must be a whole number from {least} to {most}, got {value!r}")


# Named completion settings, as changes to a model's own defaults (core.weights.completion_defaults), so an earlier
# default stays reachable: `core.evaluate --configs` and `benchmarks.complete_step` compare them on the same faces,
# in one process.
COMPLETION_PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # 25 fine-tuning steps: faster, at a small cost in likeness (weights/MODEL_CARD.md, "Fine-tuning length").
    "short-tuning": {"tune_steps": 25},
    # Slower and no better: 100 search steps from the best of 256 random z (docs/performance.md).
    "thorough": {"iterations": 100, "init_pool": 256, "precision": "float32", "tune_steps": 25},
    # Searching in float32 even where the CPU computes bfloat16 (docs/performance.md).
    "float32": {"precision": "float32"},
    # Candidates, measured against the default (docs/performance.md): the other fills' starts chosen apart among the
    # pool's 16 best fits; and fewer search steps for the other fills.
    "spread-starts": {"start_candidates": 16},
    "short-variants": {"variant_iterations": 10},
    # The other fills searched for, as before they were edits of the first fill (docs/performance.md).
    "searched-variants": {"variant_edit": 0.0},
    # The other fills among edits along one direction at a time, whatever D thinks of them and however smooth, as
    # until 7 December (though chosen on the blended hole, in the photo's colours; docs/performance.md).
    "single-variants": {"variant_directions_per_edit": 1, "variant_realism": 1.0, "variant_detail": 0.0},
    # 50 search steps, the 128 px model's default until its card set 30 (weights/MODEL_CARD.md, "Search length").
    "long-search": {"iterations": 50},
}


def completion_preset(name: str, defaults: CompletionConfig | None = None) -> CompletionConfig:
    """The named settings (COMPLETION_PRESETS) applied to defaults: a model's own, or CompletionConfig's."""
    return replace(defaults or CompletionConfig(), **COMPLETION_PRESETS[name])


SEED_COMPLETION = CompletionConfig(
    iterations=1000, learning_rate=0.01, restarts=1, init_pool=0, tune_steps=0, blend=False, colour_fit=False,
    photo_detail=False, precision="float32",
)
"""The seed's exact settings: lambda 0.1, Adam lr 0.01, 1000 iterations, 1 start, no fine-tuning, no blending."""
