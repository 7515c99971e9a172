"""One background rebuild of the served index, run as its own low-priority process.

The action server hands over the published entries it wants served (a JSON file) and a
folder; this process checks the whole knowledge (files + those entries), builds the index
reusing the vectors of unchanged texts, calibrates it on the dev split, gates the
calibration, saves the index into the folder and writes result.json. It runs apart from
the action server so searches never share its interpreter lock, at SCHED_IDLE and nice 10
with one thread: it gets only CPU time nothing else wants, and the server only loads the
finished folder and swaps it in (bot/curation/watcher.py).

    python -m bot.curation.rebuild --entries ENTRIES.json --out FOLDER [--baseline-top1 X] [--baseline-threshold T]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from bot.knowledge.entries import Entry, Source

log = logging.getLogger("patentdesk.rebuild")
RESULT = "result.json"
# a rebuilt index may lose at most this much dev top-1 against the one it replaces
TOP1_DROP = 0.02


def entries_to_json(entries: list[Entry]) -> str:
    return json.dumps([dataclasses.asdict(e) for e in entries], ensure_ascii=False)


def entries_from_json(text: str) -> list[Entry]:
    rows = json.loads(text)
    return [Entry(**{**r, "alternatives": tuple(r["alternatives"]), "source": Source(**r["source"])}) for r in rows]


def calibration_problem(calibration: dict[str, Any], baseline_top1: float | None,
                        baseline_threshold: float | None) -> str | None:
    """Why a calibrated index must not replace the served one, or None: calibration did
    not run, or it came out worse than the served index's (it can no longer answer
    outright, or its dev top-1 fell by more than TOP1_DROP)."""
    ranker = calibration.get("ranker") or {}
    top1 = calibration.get("dev_top1")
    if not calibration or top1 is None:
        return "校准没有完成（没有开发集问题可用）"
    threshold = ranker.get("answer_threshold", 0.0)
    if threshold > 1.0 and (baseline_threshold is None or baseline_threshold <= 1.0):
        return "校准后排序模型的作答阈值超过 1，新索引将无法直接作答"
    if baseline_top1 is not None and top1 < baseline_top1 - TOP1_DROP:
        return (f"校准后开发集首位命中率从 {baseline_top1:.3f} 降到 {top1:.3f}"
                f"（最多允许下降 {TOP1_DROP:.2f}），新条目可能与已有条目混淆")
    return None


def run(out: Path, entries: list[Entry], baseline_top1: float | None = None,
        baseline_threshold: float | None = None) -> dict[str, Any]:
    """Check, build, calibrate, gate; the result dict is also written to out/result.json."""
    from bot.config import Settings
    from bot.curation.served import check_served, served_knowledge
    from bot.knowledge.encoders import make_encoder
    from bot.knowledge.memory import RememberingEncoder
    from bot.knowledge.service import build_index, knowledge_dir

    settings = Settings.from_env()
    started = time.perf_counter()
    cpu_started = time.process_time()
    result: dict[str, Any] = {"ok": False, "entries": 0}
    count, problems = check_served(knowledge_dir(settings), entries)
    if problems:
        result.update(stage="check", message="知识库检查未通过：" + "；".join(str(p) for p in problems[:5]),
                      problems=[str(p) for p in problems])
        return result
    kb = served_knowledge(knowledge_dir(settings), entries)
    encoder = RememberingEncoder(make_encoder(settings.encoder))  # build_index fills it from var/
    encode_cpu = [0.0]  # CPU seconds spent encoding (the rest is the classifier and the calibration)
    inner_encode = encoder.inner.encode

    def timed_encode(texts: list[str], passage: bool = False) -> Any:
        t = time.process_time()
        try:
            return inner_encode(texts, passage=passage)
        finally:
            encode_cpu[0] = round(encode_cpu[0] + time.process_time() - t, 1)

    encoder.inner.encode = timed_encode  # type: ignore[method-assign]
    t0 = time.perf_counter()
    try:
        index = build_index(settings, kb=kb, encoder=encoder, save_to=out)
    except Exception as exc:  # calibration (or the build) failed: the old index keeps serving
        log.exception("rebuild failed")
        result.update(stage="calibration", message=f"索引构建或校准失败：{type(exc).__name__}: {exc}")
        return result
    problem = calibration_problem(index.calibration, baseline_top1, baseline_threshold)
    result.update(entries=count, content_hash=kb.content_hash, encoded=encoder.encoded, reused=encoder.reused,
                  cpu_seconds=round(time.process_time() - cpu_started, 1), encode_cpu_seconds=encode_cpu[0],
                  encode_seconds=round(index.built_seconds, 2),
                  build_seconds=round(time.perf_counter() - t0, 2),
                  seconds=round(time.perf_counter() - started, 2),
                  dev_top1=index.calibration.get("dev_top1"))
    if problem:
        result.update(stage="calibration", message=problem)
        return result
    result.update(ok=True, stage="done", message="")
    return result


def lower_priority(nice: int) -> None:
    """Run only on CPU the searches leave idle: SCHED_IDLE where Linux has it (weaker than
    any nice level), plus `nice`. 0 keeps normal priority (bench/ times a rebuild that way)."""
    if nice <= 0:
        return
    try:
        os.nice(nice)
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):  # not Linux: the nice level alone
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.curation.rebuild")
    parser.add_argument("--entries", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--baseline-top1", type=float, default=None, help="the served index's dev top-1")
    parser.add_argument("--baseline-threshold", type=float, default=None, help="the served ranker's answer threshold")
    parser.add_argument("--nice", type=int, default=10,
                        help="nice level, with SCHED_IDLE (0: normal priority, as bench/ times a rebuild)")
    parser.add_argument("--cpu-limit", type=int, default=0, help="CPU seconds before the build is stopped (0: none)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("PATENTDESK_LOG_LEVEL", "INFO"),
                        format="%(levelname)s %(name)s: %(message)s")
    lower_priority(args.nice)
    if args.cpu_limit:  # a runaway build is stopped by its CPU time; a starved one only waits
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_limit, args.cpu_limit + 5))
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args.out, entries_from_json(args.entries.read_text(encoding="utf-8")), args.baseline_top1,
                     args.baseline_threshold)
    except Exception as exc:
        log.exception("rebuild failed")
        result = {"ok": False, "stage": "error", "message": f"重建失败：{type(exc).__name__}: {exc}"}
    tmp = args.out / (RESULT + ".tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(args.out / RESULT)
    return 0 if result.get("ok") else 3


if __name__ == "__main__":
    sys.exit(main())
