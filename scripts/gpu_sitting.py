"""A training sitting on a borrowed GPU machine (JAX, no TensorFlow, no network), prepared and dry-run here first.

    python scripts/gpu_sitting.py prepare --data data/aligned128     # what travels, into .gpu/ (ignored by git)
    python scripts/gpu_sitting.py dry-run                            # the same command on this CPU for a minute
    python scripts/gpu_sitting.py command                            # the device command and the paths to carry
    python scripts/gpu_sitting.py restore                            # put the set-aside tracked files back

At most 64 MiB travels, and the tracked tree is larger, so `prepare` moves every tracked file the run does not need
(the other weights, figures, the landmark model) into .gpu/aside/ until `restore`; what stays is core/, this script,
the shipped G, D and model.json, the Keras wheel with the two packages it needs that the GPU image lacks, and as many
aligned faces as fit, as JPEG. The run (core.train_jax) trains from weights/ for a fixed wall time and writes the
averaged G and D (float16, each under 16 MiB) at the end and at half time, the losses and the log under $OUT: 8
files, the most the device brings back. Close it as any other sitting: `python -m core.sitting RUN --real
data/aligned128`, where RUN holds the returned model/ (or a model-stepN renamed model/).
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.cli import argument_parser  # noqa: E402

STAGE = ROOT / ".gpu"
ASIDE = STAGE / "aside"
NEEDED = ("core/", "scripts/gpu_sitting.py", "pyproject.toml", ".gitignore",
          "weights/model.json", "weights/generator.weights.h5", "weights/discriminator.weights.h5")
WHEELS = ("keras==3.15.1", "namex", "optree")  # the GPU image has jax, numpy, h5py, pillow, absl-py, rich, ml-dtypes
TRAVEL_BUDGET = 62 * 2**20  # of the 64 MiB that may travel
# float32 (the H100 runs it as TF32), as the CPU sittings train; the model at half its minutes comes back as well.
RUN = ("python3 -m core.train_jax --data .gpu/faces.zip --init-from weights --out $OUT --minutes {minutes} "
       "--snapshots {half} --held-out 512 --batch-size 64 --r1-gamma 0.005 --storage float16 --log-every {log_every}")


def tracked() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    return [Path(name.decode()) for name in names if name]


def set_aside() -> int:
    """Move the tracked files the run does not need into ASIDE; the bytes of tracked files that stay."""
    kept = 0
    for path in tracked():
        source = ROOT / path
        if not source.exists():
            continue
        if str(path).startswith(NEEDED):
            kept += source.stat().st_size
            continue
        target = ASIDE / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
    return kept


def restore() -> int:
    """Move every set-aside file back; the number moved."""
    moved = 0
    for target in sorted(p for p in ASIDE.rglob("*") if p.is_file()) if ASIDE.exists() else []:
        source = ROOT / target.relative_to(ASIDE)
        source.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(target, source)
        moved += 1
    shutil.rmtree(ASIDE, ignore_errors=True)
    return moved


def pack_faces(data: Path, budget: int, quality: int = 85) -> tuple[int, int]:
    """As many of data's aligned faces (in a seeded random order) as fit in budget bytes, as JPEG in a zip. At
    quality 85 (3.4 KiB a face) 500 of them are as far from the same faces as PNG by SWD as at 92 (4.4 KiB) and
    nearer than two sets of real faces are, at every scale: a third more faces travel."""
    import numpy as np

    paths = sorted(p for p in data.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    order = np.random.default_rng(0).permutation(len(paths))
    count = 0
    with zipfile.ZipFile(STAGE / "faces.zip", "w", zipfile.ZIP_STORED) as archive:
        for i in order:
            buffer = io.BytesIO()
            Image.open(paths[i]).convert("RGB").save(buffer, "JPEG", quality=quality)
            if archive.fp.tell() + buffer.tell() + 200 > budget:
                break
            archive.writestr(f"{count:06d}.jpg", buffer.getvalue())
            count += 1
    return count, (STAGE / "faces.zip").stat().st_size


def prepare(data: Path) -> None:
    STAGE.mkdir(exist_ok=True)
    wheels = STAGE / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
                    "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "-d", str(wheels),
                    *WHEELS], check=True)
    kept = set_aside()
    wheel_bytes = sum(p.stat().st_size for p in wheels.iterdir())
    count, size = pack_faces(data, TRAVEL_BUDGET - kept - wheel_bytes)
    print(f"tracked files that travel: {kept / 2**20:.1f} MiB (the rest is in {ASIDE.relative_to(ROOT)} until "
          f"`restore`); wheels {wheel_bytes / 2**20:.1f} MiB; {count} faces, {size / 2**20:.1f} MiB")


def device_command(minutes: float) -> str:
    install = ("python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "
               ".gpu/wheels/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1; ")
    gpu_or_stop = "python3 -c 'import jax; d = jax.devices(); print(d); assert d[0].platform == \"gpu\"' || exit 1; "
    return (install + "export KERAS_BACKEND=jax PYTHONUNBUFFERED=1; nvidia-smi -L; " + gpu_or_stop
            + RUN.format(minutes=minutes, half=minutes / 2, log_every=500) + " 2>&1 | tee $OUT/train.log")


def main() -> None:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "dry-run", "command", "restore"), help="what to do (above)")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "aligned128", help="aligned 128 px faces")
    parser.add_argument("--minutes", type=float, default=8.0, help="training wall time on the GPU")
    args = parser.parse_args()
    if args.action == "prepare":
        prepare(args.data)
    elif args.action == "restore":
        print(f"restored {restore()} files")
    elif args.action == "command":
        print(f"carry: .gpu/faces.zip .gpu/wheels\ncommand ({len(device_command(args.minutes))} characters):\n"
              + device_command(args.minutes))
    else:  # the device's command on this CPU, with this checkout's own Keras (JAX from requirements-dev.txt)
        out = STAGE / "dry-run"
        shutil.rmtree(out, ignore_errors=True)
        command = RUN.format(minutes=1, half=0.5, log_every=5).replace("$OUT", str(out))
        subprocess.run(command.replace("python3", sys.executable, 1).split(), cwd=ROOT, check=True,
                       env={**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"})
        files = sorted(p for p in out.rglob("*") if p.is_file())
        print("\n".join(f"{p.relative_to(out)}: {p.stat().st_size / 2**20:.1f} MiB" for p in files))


if __name__ == "__main__":
    main()
