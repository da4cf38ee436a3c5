"""Zips of face photos from the Train page: unpacked safely, aligned, never half-made."""
import io
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.zipdata import ZipDataError, ZipLimits, dataset_from_zip, unpack_images


def jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def make_zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None,
             compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo(astronaut) -> bytes:
    return jpeg(astronaut)


def test_only_images_inside_the_target_are_unpacked(tmp_path, photo):
    data = make_zip({"faces/a.jpg": photo, "b.PNG": photo, "../../evil.jpg": photo, "/etc/abs.jpg": photo,
                     "C:/windows.jpg": photo, "notes.txt": b"hello", ".hidden.jpg": photo},
                    symlinks={"link.jpg": "/etc/passwd"})
    counts = unpack_images(data, tmp_path / "out")
    assert counts == {"unpacked": 2, "skipped: unsafe path": 3, "skipped: symlink": 1, "skipped: not an image": 2}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["00000.jpg", "00001.png"]
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path.parent / "evil.jpg").exists()


@pytest.mark.parametrize("data, limits, message", [
    (b"PK\x03\x04 not really", ZipLimits(), "not a zip archive"),
    (make_zip({"notes.txt": b"x"}), ZipLimits(), "holds no JPEG"),
    (make_zip({f"{i}.jpg": b"x" for i in range(5)}), ZipLimits(max_files=4), "holds 5 photos; this server takes up to 4"),
    (make_zip({"big.jpg": b"x" * 4096}), ZipLimits(max_bytes=1024), "unpack to 0 MB; this server takes up to 0 MB"),
    (make_zip({"bomb.jpg": b"\0" * (4 << 20)}, compression=zipfile.ZIP_DEFLATED), ZipLimits(), "zip bomb"),
], ids=["not a zip", "no images", "too many photos", "too many bytes", "zip bomb"])
def test_bad_archives_are_refused_whole(tmp_path, data, limits, message):
    with pytest.raises(ZipDataError, match=message):
        unpack_images(data, tmp_path / "out", limits)
    assert list(tmp_path.iterdir()) == []  # nothing half-made


def test_a_member_that_unpacks_to_more_than_it_declares_is_never_written_past_it(tmp_path):
    data = bytearray(make_zip({"liar.jpg": b"y" * 1000}))
    # Shrink the declared size in the central directory (and the local header) to 10 bytes.
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = data.find(signature)
        data[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    with pytest.raises(ZipDataError, match="could be unpacked: the archive is damaged"):
        unpack_images(bytes(data), tmp_path / "out")  # zipfile stops at the declared 10 bytes, then fails the CRC
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_member_is_skipped(tmp_path, photo):
    data = bytearray(make_zip({"good.jpg": photo, "bad.jpg": photo}))
    second = data.find(b"PK\x03\x04", 1)
    body = second + 30 + len("bad.jpg")
    data[body + 100 : body + 110] = b"\0" * 10  # its CRC no longer matches
    counts = unpack_images(bytes(data), tmp_path / "out")
    assert counts == {"unpacked": 1, "skipped: damaged": 1}


def test_an_existing_folder_is_never_overwritten(tmp_path, photo):
    (tmp_path / "out").mkdir()
    with pytest.raises(ZipDataError, match="exists already"):
        unpack_images(make_zip({"a.jpg": photo}), tmp_path / "out")


def test_a_zip_of_photos_becomes_a_folder_of_aligned_faces(tmp_path, photo):
    blank = jpeg(np.full((200, 200, 3), 128, np.uint8))
    seen = []
    counts = dataset_from_zip(make_zip({"me/astronaut.jpg": photo, "wall.jpg": blank, "readme.md": b"#"}),
                              tmp_path / "faces", 64, progress=lambda done, total: seen.append((done, total)))
    assert counts["aligned"] == 1 and counts["skipped: no_face"] == 1 and counts["skipped: not an image"] == 1
    faces = list((tmp_path / "faces").iterdir())
    assert len(faces) == 1 and Image.open(faces[0]).size == (64, 64)
    assert seen == [(1, 2), (2, 2)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces"]  # no partial folder, no photos kept


def test_a_zip_without_a_usable_face_leaves_nothing(tmp_path):
    blank = jpeg(np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(ZipDataError, match="No face could be aligned in the 1 photos: skipped: no_face 1"):
        dataset_from_zip(make_zip({"wall.jpg": blank}), tmp_path / "faces")
    assert list(tmp_path.iterdir()) == []
