"""A small knowledge base home for the publish-and-swap tests: three real topic files,
the glossary, and the eval questions about them (plus the uncovered ones), so an index
builds and calibrates in seconds rather than the full base's minutes."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from bot.config import PROJECT_ROOT, Settings
from bot.knowledge.entries import load_knowledge
from tests.conftest import make_env

# about 100 entries and 220 dev questions: enough for the ranker's calibration to answer outright
SMALL_FILES = ("term.yml", "restoration.yml", "annual_fees.yml", "fees.yml", "fee_reduction.yml", "fee_payment.yml",
               "changes.yml", "redirections.yml", "_glossary.yml")


def small_home(root: Path) -> Path:
    home = root / "home"
    (home / "knowledge").mkdir(parents=True)
    for name in SMALL_FILES:
        shutil.copy(PROJECT_ROOT / "knowledge" / name, home / "knowledge" / name)
    known = {e.id for e in load_knowledge(home / "knowledge").entries} | {"none"}
    (home / "data" / "eval").mkdir(parents=True)
    for path in sorted((PROJECT_ROOT / "data" / "eval").glob("*.yml")):
        rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        kept = [r for r in rows if str(r.get("id")) in known]
        (home / "data" / "eval" / path.name).write_text(yaml.safe_dump(kept, allow_unicode=True), encoding="utf-8")
    return home


def small_settings(root: Path, home: Path, built: Path | None = None, **extra: str) -> Settings:
    """Settings on `home` with a private var/ (and records database) under `root`; `built`:
    a var/ whose index/ is copied in, so the first load needs no build."""
    var = root / "var"
    if built is not None:
        shutil.copytree(built / "index", var / "index")
    # normal priority: on a busy test machine an idle-priority rebuild could wait for minutes
    env = {"PATENTDESK_HOME": str(home), "DATABASE_URL": f"sqlite:///{var / 'records.db'}",
           "KNOWLEDGE_REBUILD_NICE": "0", **extra}
    return Settings.from_env(make_env(var, **env))
