"""A zip of face photos, unpacked safely into a dataset folder: what a newcomer uploads to train on.

Nothing in the archive is trusted: members whose path is absolute or climbs out with `..`,
symlinks, and anything but images are skipped; the archive is refused whole when it holds
too many images, declares too many bytes once unpacked, or compresses one member suspiciously
well (a zip bomb); a member is never unpacked past the size it declares. Files are written
flat, under new names, into a temporary folder that is renamed into place at the end, so a
failed or killed unpack leaves no half-made dataset.
"""
from __future__ import annotations

import io
import shutil
import stat
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from core.align import IMAGE_SUFFIXES, align_folder

MAX_RATIO = 200  # a member that unpacks to more than this many times its compressed size is refused
CHUNK = 1 << 20


class ZipDataError(ValueError):
    """An archive that cannot be used, with a message fit to show a user."""


@dataclass(frozen=True)
class ZipLimits:
    max_files: int = 20_000
    max_bytes: int = 500 * 2**20  # unpacked


def unpack_images(data: bytes, target: Path, limits: ZipLimits = ZipLimits()) -> Counter:
    """Unpack the images of a zip (bytes) into the new folder target; returns counts of what was kept and skipped."""
    target = Path(target)
    if target.exists():
        raise ZipDataError(f"{target.name} exists already: choose another name.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ZipDataError("That file is not a zip archive.") from None
    counts: Counter = Counter()
    members = []
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            path = PurePosixPath(info.filename.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts or (path.parts and path.parts[0].endswith(":")):
                counts["skipped: unsafe path"] += 1
            elif stat.S_ISLNK(info.external_attr >> 16):
                counts["skipped: symlink"] += 1
            elif path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
                counts["skipped: not an image"] += 1
            else:
                members.append(info)
        if not members:
            raise ZipDataError("The archive holds no JPEG, PNG, WebP or BMP photos.")
        if len(members) > limits.max_files:
            raise ZipDataError(f"The archive holds {len(members)} photos; this server takes up to {limits.max_files}.")
        declared = sum(info.file_size for info in members)
        if declared > limits.max_bytes:
            raise ZipDataError(f"The photos unpack to {declared / 2**20:.0f} MB; this server takes up to "
                               f"{limits.max_bytes / 2**20:.0f} MB.")
        if any(info.file_size > MAX_RATIO * max(info.compress_size, 1) for info in members):
            raise ZipDataError("The archive compresses too well to hold photos (a zip bomb?); it was not unpacked.")
        partial = target.with_name(f".{target.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            for i, info in enumerate(members):
                destination = partial / f"{i:05d}{PurePosixPath(info.filename).suffix.lower()}"
                if _extract(archive, info, destination):
                    counts["unpacked"] += 1
                else:
                    destination.unlink(missing_ok=True)
                    counts["skipped: damaged"] += 1
            if not counts["unpacked"]:
                raise ZipDataError("None of the photos in the archive could be unpacked: the archive is damaged.")
            partial.rename(target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return counts


def dataset_from_zip(data: bytes, folder: Path, size: int = 64, limits: ZipLimits = ZipLimits(),
                     progress: Callable[[int, int], None] | None = None) -> Counter:
    """Unpack a zip of photos and align its faces into the new folder (flat PNGs, ready to train on).

    The photos themselves are unpacked to a temporary folder and deleted afterwards; the aligned
    faces appear in folder only once all are done. Returns counts of what was aligned and skipped.
    """
    folder = Path(folder)
    if folder.exists():
        raise ZipDataError(f"{folder.name} exists already: choose another name.")
    partial = folder.with_name(f".{folder.name}.partial")
    try:
        with tempfile.TemporaryDirectory(prefix="facefill-zip-") as scratch:
            counts = unpack_images(data, Path(scratch) / "photos", limits)
            shutil.rmtree(partial, ignore_errors=True)
            counts += align_folder(Path(scratch) / "photos", partial, size, progress)
        if not counts["aligned"]:
            raise ZipDataError(f"No face could be aligned in the {counts['unpacked']} photos: "
                               + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k.startswith("skipped")))
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return counts


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path) -> bool:
    """One member's bytes to destination; False if it is damaged (bad CRC, unknown method, encrypted).

    zipfile never yields more bytes than a member declares (and then fails its CRC), so the
    declared sizes checked above bound what is written.
    """
    try:
        with archive.open(info) as source, open(destination, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError):
        return False
    return True
