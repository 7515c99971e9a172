"""`patentdesk eval`: retrieval and answer-policy figures on the labelled questions."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bot.config import Settings
from bot.knowledge.eval_sets import load_computed, load_dialogues, load_real
from bot.knowledge.evaluation import EvalQuestion, Report, evaluate, load_questions, score_all
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.service import eval_dir, load_or_build

SETS = ("split", "real", "dialogues", "computed", "streams")
SERVED_SETS = ("real", "dialogues", "computed", "streams")   # asked through the served assistant (a model)


def run_eval(settings: Settings, split: str = "test", out: Path | None = None, show_wrong: bool = True,
             stream=None, sets: tuple[str, ...] = SETS) -> int:
    stream = stream or sys.stdout
    served = set(sets) & set(SERVED_SETS)
    if served:  # no model and no server: say so before minutes of index work (FileNotFoundError)
        from bot.runtime.local_stack import check_endpoint

        asyncio.run(check_endpoint(settings))
    index = load_or_build(settings)
    questions = load_questions(eval_dir(settings))
    unknown = sorted({x for q in questions for x in q.labels if index.entry(x) is None})
    if unknown:
        stream.write(f"eval labels name entries that do not exist: {', '.join(unknown)}\n")
        return 2
    chosen = questions if split == "all" else [q for q in questions if q.split == split]
    data: dict = {"split": split, "encoder": index.encoder.name, "thresholds": index.thresholds.to_dict(),
                  "calibration": index.calibration}
    if "split" in sets:
        data |= _split_figures(index, chosen, split, stream, show_wrong)
    if served:
        data |= asyncio.run(_served_sets(settings, sets, stream, show_wrong, split, chosen))
    out = out or settings.var_dir / "reports" / f"eval-{split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    stream.write(f"report: {out}\n")
    return 0


def _split_figures(index: KnowledgeIndex, chosen: list[EvalQuestion], split: str, stream, show_wrong: bool) -> dict:
    """Retrieval and the answer policy on the labelled split, written to `stream`; the report's part."""
    report = evaluate(index, score_all(index, chosen), index.thresholds)
    stream.write(
        f"split={split} questions={report.n} answerable={report.n_covered}\n"
        f"top-1={report.top1:.3f} top-3={report.top3:.3f} coverage={report.coverage:.3f} "
        f"(answerable answered: {report.coverage_in_kb:.3f}) answered-precision={report.answered_precision:.3f} "
        f"uncovered-answered={report.none_answered}\n"
        f"decisions={report.decisions} thresholds={index.thresholds.to_dict()}\n"
    )
    outcomes = split_outcomes(report)
    stream.write(f"answered right={outcomes['right']} answered wrong={outcomes['wrong']} "
                 f"clarified={outcomes['clarified']} handed off={outcomes['handed_off']}; clarified with the "
                 f"likely answer shown first (retrieval level): {report.shown}\n")
    if show_wrong:
        for w in report.wrong:
            stream.write(f"  WRONG {w['q']!r}: expected {w['expected']}, answered {w['answered']} ({w['score']})\n")
    ranker_info = index.calibration.get("ranker") or {}
    if ranker_info:
        stream.write(f"ranker calibration (answer threshold {ranker_info.get('answer_threshold')}; predicted "
                     "confidence in the first pick against how often it was right):\n")
        stream.write(calibration_lines("dev, out of fold", ranker_info.get("calibration_dev_oof") or []))
        stream.write(calibration_lines(f"{split} split", report.calibration))
    return report.as_dict() | {"outcomes": outcomes}


def split_outcomes(report: Report) -> dict[str, int]:
    d = report.decisions
    wrong = len(report.wrong)
    return {"right": d.get("answer", 0) - wrong, "wrong": wrong, "clarified": d.get("clarify", 0),
            "handed_off": d.get("handoff", 0)}


def calibration_lines(title: str, rows: list[dict]) -> str:
    lines = [f"  {title}:"]
    for r in rows:
        if r["n"]:
            lines.append(f"    {r['bucket']}  n={r['n']:<4} predicted={r['predicted']:.3f} observed={r['observed']:.3f}")
    return "\n".join(lines) + "\n"


async def _served_sets(settings: Settings, sets: tuple[str, ...], stream, show_wrong: bool,
                       split: str = "test", split_questions: list[EvalQuestion] | None = None) -> dict:
    from bot.knowledge.served_eval import (
        computed_report,
        dialogue_report,
        real_report,
        stream_report,
    )

    data: dict = {}
    folder = eval_dir(settings)
    if "real" in sets and (questions := load_real(folder / "real")):
        real = await real_report(settings, questions)
        c, u = real.covered, real.uncovered
        stream.write(
            f"real questions={real.n} covered={real.n_covered}: answered right={c.get('right', 0)} "
            f"({real.covered_right:.1%}) answered wrong={c.get('wrong', 0)} ({real.covered_wrong:.1%}) "
            f"clarified={c.get('clarified', 0)} handed off={c.get('handed_off', 0)} other={c.get('other', 0)}; "
            f"uncovered={real.n - real.n_covered}: answered with a fact={real.uncovered_answered} "
            f"redirected={u.get('redirected', 0)} "
            f"clarified={u.get('clarified', 0)} handed off={u.get('handed_off', 0)} other={u.get('other', 0)}\n"
            f"  clarified with the likely answer shown first: covered {real.covered_shown or {}}, "
            f"uncovered {real.uncovered_shown or {}}\n")
        data["real"] = real.as_dict()
    splits = ("dev", "test") if split == "all" else (split,)
    names = tuple(f"{name}.yml" for name in splits)
    if "dialogues" in sets and (dialogues := load_dialogues(folder / "dialogues", names)):
        dlg = await dialogue_report(settings, dialogues)
        stream.write(f"dialogues={dlg.conversations} turns={dlg.turns} turns right={dlg.right} "
                     f"({dlg.turns_right:.1%}) decisions={dlg.decisions}; "
                     f"clarified with the likely answer shown first: {dlg.shown or {}}\n")
        data["dialogues"] = dlg.as_dict()
    if "computed" in sets and (computed := load_computed(folder / "computed", splits)):
        calc = await computed_report(settings, computed)
        o = calc.outcomes
        stream.write(f"computed ({'+'.join(splits)}) questions={calc.n}: right={o.get('right', 0)} ({calc.right:.1%}) "
                     f"wrong={o.get('wrong', 0)} other={o.get('other', 0)}\n")
        if show_wrong:
            for m in calc.misses:
                stream.write(f"  {m['outcome'].upper()} {m['q']!r}: expected {m['expected']}, got "
                             f"{m['decision']} asks={m['asks']} value={m['value']}\n")
        data["computed"] = calc.as_dict()
    if "streams" in sets and split_questions:
        streams = await stream_report(settings, split_questions)
        o = streams.outcomes
        stream.write(f"streams ({split} split, {streams.conversations} users asking unrelated questions in a row) "
                     f"later questions={streams.asked}: answered right={o.get('right', 0)} "
                     f"answered wrong={o.get('wrong', 0)} redirected={o.get('redirected', 0)} "
                     f"clarified={o.get('clarified', 0)} handed off={o.get('handed_off', 0)} other={o.get('other', 0)}\n")
        if show_wrong:
            for w in streams.wrong:
                stream.write(f"  WRONG after {w['before']!r}: {w['q']!r} expected {w['expected']}, "
                             f"answered {w['answered']}\n")
        data["streams"] = streams.as_dict()
    return data
