"""`patentdesk eval`: retrieval and answer-policy figures on the labelled questions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.config import Settings
from bot.knowledge.evaluation import evaluate, load_questions, score_all
from bot.knowledge.service import eval_dir, load_or_build


def run_eval(settings: Settings, split: str = "test", out: Path | None = None, show_wrong: bool = True,
             stream=None) -> int:
    stream = stream or sys.stdout
    index = load_or_build(settings)
    questions = load_questions(eval_dir(settings))
    unknown = sorted({q.label for q in questions if q.label != "none" and index.entry(q.label) is None})
    if unknown:
        stream.write(f"eval labels name entries that do not exist: {', '.join(unknown)}\n")
        return 2
    chosen = questions if split == "all" else [q for q in questions if q.split == split]
    report = evaluate(index, score_all(index, chosen), index.thresholds)
    stream.write(
        f"split={split} questions={report.n} answerable={report.n_covered}\n"
        f"top-1={report.top1:.3f} top-3={report.top3:.3f} coverage={report.coverage:.3f} "
        f"(answerable answered: {report.coverage_in_kb:.3f}) answered-precision={report.answered_precision:.3f} "
        f"uncovered-answered={report.none_answered}\n"
        f"decisions={report.decisions} thresholds={index.thresholds.to_dict()}\n"
    )
    if show_wrong:
        for w in report.wrong:
            stream.write(f"  WRONG {w['q']!r}: expected {w['expected']}, answered {w['answered']} ({w['score']})\n")
    out = out or settings.var_dir / "reports" / f"eval-{split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = report.as_dict() | {"split": split, "encoder": index.encoder.name, "thresholds": index.thresholds.to_dict(),
                               "calibration": index.calibration}
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    stream.write(f"report: {out}\n")
    return 0
