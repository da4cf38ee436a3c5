"""Deployment settings in one place, read from environment variables: FACEFILL_WEIGHTS, FACEFILL_MAX_SECONDS, ...

Each variable, its default, its hosted default and what it means: README.md, "Deploying".
"""
from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path


class SettingsError(ValueError):
    """A setting or a user-given path that is not allowed."""


def _flag(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise SettingsError(f"{name} must be at least 1, got {number}")
    return number


@dataclass(frozen=True)
class Settings:
    weights: Path
    runs: Path
    training_enabled: bool
    data_roots: tuple[Path, ...]
    max_iterations: int
    max_restarts: int
    max_concurrent: int
    max_upload_mb: int
    max_jobs: int
    max_seconds: int
    max_zip_mb: int = 100
    max_zip_files: int = 20_000
    admin_password: str = field(default="", repr=False)
    data_root_names: tuple[str, ...] = ()  # the roots as FACEFILL_DATA_ROOTS names them, to show to users

    @classmethod
    def from_env(cls) -> Settings:
        """The settings from the environment; a hosted demo (FACEFILL_HOSTED=1, or a Hugging Face
        Space) defaults to the demo profile: no training, tight limits. Any variable set overrides."""
        hosted = _flag("FACEFILL_HOSTED", False) or "SPACE_ID" in os.environ
        roots = [root for root in os.environ.get("FACEFILL_DATA_ROOTS", "../shared/data:data").split(":") if root]
        return cls(
            weights=Path(os.environ.get("FACEFILL_WEIGHTS", "weights")),
            runs=Path(os.environ.get("FACEFILL_RUNS", "runs")),
            training_enabled=_flag("FACEFILL_TRAINING", not hosted),
            data_roots=tuple(Path(root).resolve() for root in roots),
            data_root_names=tuple(roots),
            max_iterations=_int("FACEFILL_MAX_ITERATIONS", 300 if hosted else 3000),
            max_restarts=_int("FACEFILL_MAX_RESTARTS", 2 if hosted else 16),
            max_concurrent=_int("FACEFILL_MAX_CONCURRENT", 1),
            max_upload_mb=_int("FACEFILL_MAX_UPLOAD_MB", 20),
            max_jobs=_int("FACEFILL_MAX_JOBS", 1),
            max_seconds=_int("FACEFILL_MAX_SECONDS", 15 if hosted else 60),
            max_zip_mb=_int("FACEFILL_MAX_ZIP_MB", 100),
            max_zip_files=_int("FACEFILL_MAX_ZIP_FILES", 20_000),
            admin_password=os.environ.get("FACEFILL_ADMIN_PASSWORD", ""),
        )

    @property
    def uploads(self) -> Path | None:
        """Where datasets uploaded as zips are aligned into: uploads/ under the last allowed root (None without one)."""
        return self.data_roots[-1] / "uploads" if self.data_roots else None

    def may_control_training(self, password: str | None) -> bool:
        """Whether someone who gave this password may start, stop and resume runs and switch the app's model:
        anyone when no admin password is set (one person's own machine), else only with the right one."""
        if not self.admin_password:
            return True
        return password is not None and hmac.compare_digest(password.encode(), self.admin_password.encode())

    def dataset_path(self, path: str | Path) -> Path:
        """Resolve a user-given dataset folder; it must lie inside an allowed root (after symlinks)."""
        text = str(path).strip()
        if not text:
            raise SettingsError("Choose a dataset folder.")
        resolved = Path(text).resolve()
        if not self.allows(resolved):
            allowed = ", ".join(self.shown(root) for root in self.data_roots) or "none"
            raise SettingsError(f"{text} is outside the allowed dataset folders ({allowed}).")
        if not resolved.is_dir():
            raise SettingsError(f"{text} is not a folder.")
        return resolved

    def shown(self, path: Path) -> str:
        """path as a user knows it, never the machine's resolved one: under an allowed root, as that root is
        named in FACEFILL_DATA_ROOTS (../shared/data/utkface); elsewhere relative to the project when inside it."""
        resolved = Path(path).resolve()
        for root, name in zip(self.data_roots, self.data_root_names):
            if resolved == root or root in resolved.parents:
                return str(Path(name) / resolved.relative_to(root))
        try:
            return str(resolved.relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path)

    def allows(self, path: Path) -> bool:
        """Whether path, with every symlink resolved, lies inside an allowed root."""
        resolved = Path(path).resolve()
        return any(resolved == root or root in resolved.parents for root in self.data_roots)

    def dataset_choices(self, depth: int = 2) -> list[Path]:
        """Folders under the allowed roots that resolve inside them, for a picker (no free-form paths)."""
        found = []
        for root in self.data_roots:
            if root.is_dir():
                found.append(root)
                for level in range(1, depth + 1):
                    found += sorted(p for p in root.glob("/".join(["*"] * level)) if p.is_dir() and self.allows(p))
        return found
