"""What a hosted demo is built from: the Space recipe and the image's inputs (scripts/container.sh builds and runs
the image for real; it needs podman or Docker, so it is not part of the test run)."""
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_space_recipe_writes_a_docker_space_of_files_under_10_mib(tmp_path):
    out = tmp_path / "space"
    subprocess.run(["bash", str(ROOT / "scripts" / "hf_space.sh"), str(out)], check=True, capture_output=True)
    readme = (out / "README.md").read_text()
    assert readme.startswith("---\n") and "\nsdk: docker\n" in readme and "\napp_port: 8501\n" in readme
    assert "bash scripts/setup.sh" in readme  # the project's README follows the front matter
    assert (out / "Dockerfile").is_file() and (out / "weights" / "generator.weights.h5").is_file()
    assert not (out / "tests").exists()
    assert max(p.stat().st_size for p in out.rglob("*") if p.is_file()) < 10 * 2**20


def test_the_image_takes_its_base_as_an_argument_and_serves_the_demo_profile():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG BASE=python:3.11-slim\nFROM ${BASE}" in dockerfile
    assert "FACEFILL_HOSTED=1" in dockerfile and "HEALTHCHECK" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests", "runs", "data"} <= set(ignored)


def test_the_image_and_streamlit_cloud_install_the_libraries_mediapipe_links():
    """MediaPipe's libraries link libEGL and libGLESv2: without them a slim image cannot align a photo (found by
    building and running the image: 'libEGL.so.1: cannot open shared object file')."""
    needed = {"libgl1", "libegl1", "libgles2", "libglib2.0-0"}
    assert set((ROOT / "packages.txt").read_text().split()) == needed
    install = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if "apt-get install" in line)
    assert needed <= set(install.split())


def test_the_shipped_weights_stay_small():
    """The default 128 px model and the 64 px one together stay under 80 MB, each file under a Space's 10 MiB."""
    folders = {folder.name: folder for folder in ROOT.glob("weights*") if folder.is_dir()}
    assert {"weights", "weights-64"} <= set(folders)
    files = [path for folder in folders.values() for path in folder.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 80e6
    assert max(path.stat().st_size for path in files) < 10 * 2**20
