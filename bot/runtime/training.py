"""Training the Rasa model only when its inputs changed.

The model's file name carries a fingerprint of config.yml, domain.yml and data/*.yml, so
"is the model fresh?" is one file-exists check, shared by `run`, `train` and `doctor`.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

from bot.config import Settings

log = logging.getLogger(__name__)
MODEL_PREFIX = "patentdesk-"


class TrainingError(RuntimeError):
    """rasa train failed; its output was already shown."""


def training_files(home: Path) -> list[Path]:
    return [home / "config.yml", home / "domain.yml", *sorted((home / "data").glob("*.yml"))]


def fingerprint(home: Path) -> str:
    import rasa

    digest = hashlib.sha256(f"rasa {rasa.__version__}\n".encode())
    for path in training_files(home):
        digest.update(path.relative_to(home).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def model_path(settings: Settings) -> Path:
    return settings.model_dir / f"{MODEL_PREFIX}{fingerprint(settings.home)}.tar.gz"


def latest_model(settings: Settings) -> Path | None:
    models = sorted(settings.model_dir.glob(f"{MODEL_PREFIX}*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def is_fresh(settings: Settings) -> bool:
    return model_path(settings).exists()


def train(settings: Settings, force: bool = False) -> Path:
    target = model_path(settings)
    if target.exists() and not force:
        log.info("model is up to date: %s", target.name)
        return target
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    files = training_files(settings.home)
    data = [str(p) for p in files[2:]]
    cmd = [sys.executable, "-m", "rasa", "train", "--config", str(files[0]), "--domain", str(files[1]),
           "--data", *data, "--out", str(settings.model_dir), "--fixed-model-name", target.name[: -len(".tar.gz")]]
    log.info("training the Rasa model (inputs changed or no model yet)")
    result = subprocess.run(cmd, cwd=settings.home, env=settings.child_env())
    if result.returncode != 0 or not target.exists():
        raise TrainingError(f"rasa train failed (exit {result.returncode})")
    for old in settings.model_dir.glob(f"{MODEL_PREFIX}*.tar.gz"):
        if old != target:
            old.unlink(missing_ok=True)
    return target
