"""Saving and loading a trained DCGAN: two `.weights.h5` files and a `model.json`.

`model.json` holds the model config (so the right shapes are built before
loading) and a training card (data, steps, wall time), whose `completion` section may set this model's own
completion defaults (e.g. how many fine-tuning steps its G needs). Every write goes to a
temporary name first and is renamed into place, so a killed process never
leaves a half-written file behind.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import h5py
import keras

from core.cli import argument_parser
from core.config import CompletionConfig, ModelConfig
from core.networks import build_discriminator, build_encoder, build_generator

MODEL_JSON = "model.json"
GENERATOR_FILE = "generator.weights.h5"
DISCRIMINATOR_FILE = "discriminator.weights.h5"
ENCODER_FILE = "encoder.weights.h5"  # optional: a learned first guess of z for completion (core.encoder)


class WeightsError(RuntimeError):
    """A weights folder or file is missing, unreadable or does not fit the model."""


@dataclass
class TrainedModel:
    """A generator and discriminator ready for inference, with where they came from."""

    config: ModelConfig
    generator: keras.Model
    discriminator: keras.Model
    card: dict[str, Any] = field(default_factory=dict)
    encoder: keras.Model | None = None

    @property
    def completion(self) -> CompletionConfig:
        """This model's completion defaults (completion_defaults of its card)."""
        return completion_defaults(self.card)


def completion_defaults(card: dict[str, Any]) -> CompletionConfig:
    """CompletionConfig's defaults with the card's `completion` section on top: settings measured for one model (the
    128 px G fits a person better with 50 fine-tuning steps; the 64 px one gains little for the time)."""
    return replace(CompletionConfig(), **card.get("completion", {}))


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) and rename tmp onto path, so path is always whole or absent."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{''.join(path.suffixes)}")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2)))


def save_network(path: Path, build: Callable[..., keras.Model], config: ModelConfig, model: keras.Model,
                 dtype: str = "float32") -> None:
    """Write one network's weights atomically, stored as dtype (float16 halves the file)."""
    if dtype != "float32":
        copy = build(config, dtype=dtype)
        copy.set_weights(model.get_weights())
        model = copy
    atomic_write(path, model.save_weights)


def save_model(
    folder: str | Path,
    config: ModelConfig,
    generator: keras.Model,
    discriminator: keras.Model,
    card: dict[str, Any] | None = None,
    dtype: str = "float32",
    encoder: keras.Model | None = None,
) -> Path:
    """Write G, D (and the encoder, if any) and model.json into folder; dtype="float16" halves the file size."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_network(folder / GENERATOR_FILE, build_generator, config, generator, dtype)
    save_network(folder / DISCRIMINATOR_FILE, build_discriminator, config, discriminator, dtype)
    if encoder is not None:
        save_network(folder / ENCODER_FILE, build_encoder, config, encoder, dtype)
    write_json(folder / MODEL_JSON, {"config": config.to_dict(), "dtype": dtype, "card": card or {}})
    return folder


def read_model_json(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MODEL_JSON
    if not path.is_file():
        raise WeightsError(f"No model found: {path} is missing. Train one with `python -m core.train`.")
    try:
        data = json.loads(path.read_text())
        data["config"] = ModelConfig.from_dict(data["config"])
        completion_defaults(data.get("card", {}))
    except (ValueError, KeyError, TypeError) as err:
        raise WeightsError(f"{path} is not a valid model description: {err}") from err
    return data


def _load_weights_file(model: keras.Model, path: Path, config: ModelConfig) -> None:
    if not path.is_file():
        raise WeightsError(f"Weights file {path} is missing.")
    if not h5py.is_hdf5(path):
        raise WeightsError(f"{path} is not an HDF5 weights file (truncated, or another format such as a pickle).")
    try:
        model.load_weights(path)
    except (ValueError, OSError, KeyError) as err:
        raise WeightsError(
            f"{path} does not fit a {model.name} with {config} (from {MODEL_JSON}): {err}"
        ) from err


def load_model(folder: str | Path, expect: ModelConfig | None = None) -> TrainedModel:
    """Build the model described by folder/model.json and load its weights. expect: a config whose weights the
    folder's must be (ModelConfig.same_weights: its output_blur may differ).

    Raises WeightsError naming the file and what differs when anything does not fit.
    """
    folder = Path(folder)
    meta = read_model_json(folder)
    config: ModelConfig = meta["config"]
    if expect is not None and not expect.same_weights(config):
        raise WeightsError(f"{folder / MODEL_JSON} describes {config}, expected {expect}.")
    generator, discriminator = build_generator(config), build_discriminator(config)
    _load_weights_file(generator, folder / GENERATOR_FILE, config)
    _load_weights_file(discriminator, folder / DISCRIMINATOR_FILE, config)
    encoder = None
    if (folder / ENCODER_FILE).exists():
        encoder = build_encoder(config)
        _load_weights_file(encoder, folder / ENCODER_FILE, config)
    return TrainedModel(config, generator, discriminator, meta.get("card", {}), encoder)


def load_models(folders: list[Path], same_size: bool = True) -> dict[Path, TrainedModel]:
    """Several model folders to compare on the same inputs, by folder; same_size: they must share an image size."""
    models = {folder: load_model(folder) for folder in folders}
    sizes = {model.config.image_size for model in models.values()}
    if same_size and len(sizes) > 1:
        raise WeightsError(f"The weights folders hold models of different image sizes ({sorted(sizes)}).")
    return models


# Card sections of the files that live beside G and D in a weights folder, written by their own CLIs
# (core.encoder, core.attributes, core.directions). The encoder and the directions are fitted to one G.
COMPANIONS = {"encoder": True, "age_gender": False, "directions": True}  # section -> tied to G


def publish(source: Path, dest: Path, dtype: str = "float16") -> tuple[TrainedModel, list[str]]:
    """Write the model in source (e.g. a run's model/) into dest, keeping dest's companion files and their
    card sections, and its completion defaults. Returns the model and the kept sections that were fitted to dest's previous G (to redo)."""
    model = load_model(source)
    previous = read_model_json(dest)["card"] if (dest / MODEL_JSON).exists() else {}
    kept = {name: previous[name] for name in (*COMPANIONS, "completion") if name in previous and name not in model.card}
    stale = [name for name in kept if COMPANIONS.get(name)]
    for name in stale:
        kept[name] = {**kept[name], "fitted_to_generator_steps": previous.get("steps")}
    save_model(dest, model.config, model.generator, model.discriminator, {**model.card, **kept}, dtype, model.encoder)
    return model, stale


def main(argv: list[str] | None = None) -> None:
    """python -m core.weights SRC DST [--dtype float16]: copy a model folder, e.g. a run's into weights/."""
    parser = argument_parser("Publish a model folder (a run's model/) as the app's weights.")
    parser.add_argument("source", type=Path, help="model folder, e.g. runs/faces/model")
    parser.add_argument("dest", type=Path, help="where to write it, e.g. weights")
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float16", help="storage precision")
    args = parser.parse_args(argv)
    try:
        model, stale = publish(args.source, args.dest, args.dtype)
    except WeightsError as err:
        parser.exit(2, f"error: {err}\n")
    size = sum(p.stat().st_size for p in args.dest.glob("*.h5")) / 2**20
    print(f"wrote {args.dest} ({args.dtype}, {size:.1f} MiB): {model.card.get('steps', '?')} steps")
    redo = {"encoder": f"python -m core.encoder --weights {args.dest} --warm-start",
            "directions": f"python -m core.directions --weights {args.dest} --projections PROJECTIONS.npz"}
    for name in stale:
        print(f"kept the {name} fitted to the previous generator; fit it to this one: {redo[name]}")


if __name__ == "__main__":
    main()
