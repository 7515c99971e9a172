"""PNG charts of a service report (`patentdesk report --charts DIR`, the console's report page).

Drawn from the report dict only, so the charts show exactly the printed figures. Uses
matplotlib's object API on the Agg canvas (no pyplot global state, no display needed).
Labels are Chinese when a CJK font is installed (WenQuanYi Micro Hei from
fonts-wqy-microhei, Noto/Source Han Sans ...); otherwise English, so a machine without
one still gets readable charts and no missing-glyph warnings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

log = logging.getLogger("patentdesk.records")

CJK_FONTS = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC",
             "Source Han Sans SC", "Source Han Sans CN", "SimHei", "Microsoft YaHei", "PingFang SC")

LABELS: dict[str, dict[str, Any]] = {
    "zh": {"per_day": "每日咨询量", "enquiries": "咨询数", "satisfaction": "满意度分布", "ratings": "评价数",
           "handle": "坐席平均处理时长（秒）", "seconds": "秒", "entries": "最常用知识条目", "answers": "回答次数",
           "complaints": "投诉等级分布", "count": "数量", "bot": "机器人", "agent": "人工", "ticket": "留言",
           "abandoned": "放弃", "open": "进行中", "ungraded": "未定级", "rating_labels": None,
           "no_data": "暂无数据", "teams": "各团队留言工单", "opened": "新增", "answered": "已答复",
           "overdue": "超期", "team_label": "name"},
    "en": {"per_day": "Enquiries per day", "enquiries": "enquiries", "satisfaction": "Satisfaction",
           "ratings": "ratings", "handle": "Mean handle time per agent (s)", "seconds": "seconds",
           "entries": "Most-used knowledge entries", "answers": "answers", "complaints": "Complaints by grade",
           "count": "count", "bot": "bot", "agent": "agent", "ticket": "ticket", "abandoned": "abandoned",
           "open": "open", "ungraded": "ungraded",
           "rating_labels": ["1 very satisfied", "2 satisfied", "3 neutral", "4 unsatisfied"],
           "no_data": "No data", "teams": "Tickets per team", "opened": "opened", "answered": "answered",
           "overdue": "overdue", "team_label": "team"},  # team ids: the names need a CJK font
}
COLOURS = {"bot": "#4C9F70", "agent": "#3A7CA5", "ticket": "#E0A458", "abandoned": "#C8553D", "open": "#9A9A9A"}


CJK_FILES = ("wqy", "notosanscjk", "notoserifcjk", "sourcehansans", "simhei", "msyh")


def cjk_font() -> str | None:
    """The first installed CJK font family, if any. matplotlib caches its font list, so a
    font installed after the cache was built is looked for among the system's files."""
    def known() -> str | None:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in installed), None)

    found = known()
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(tag in Path(path).name.lower().replace("-", "").replace("_", "") for tag in CJK_FILES):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = known()
    return found


def _figure(width: float = 8.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained", facecolor="white")
    FigureCanvasAgg(fig)
    return fig


Out = Path | IO[bytes]  # a file, or a binary stream (the console serves charts from memory)


def _save(fig: Figure, out: Out) -> None:
    fig.savefig(out, format="png")


def render_chart(report: dict[str, Any], name: str, out: Out, chinese: bool | None = None) -> bool:
    """Draw chart `name` (one of CHARTS) of the report as PNG into `out`; True when the
    labels are Chinese. `chinese`: None picks Chinese labels when a CJK font is installed;
    False forces English."""
    from matplotlib import rc_context

    font = cjk_font() if chinese is not False else None
    style = {"font.family": "sans-serif", "font.sans-serif": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
             "axes.unicode_minus": False}
    with rc_context(style):
        CHARTS[name](report, LABELS["zh" if font else "en"], out)
    return font is not None


def render_charts(report: dict[str, Any], out_dir: Path, chinese: bool | None = None) -> list[Path]:
    """Write the report's charts as PNG files under `out_dir`, named after CHARTS; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png" for name in CHARTS]
    labels = [render_chart(report, path.stem, path, chinese) for path in paths]
    log.info("records: %d chart(s) in %s (%s labels)", len(paths), out_dir, "Chinese" if all(labels) else "English")
    return paths


def _no_data(fig: Figure, title: str, words: dict[str, Any], out: Out) -> None:
    """A chart without figures says so, instead of empty axes with made-up (negative) ticks."""
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, words["no_data"], ha="center", va="center", fontsize=16, color="#777777",
            transform=ax.transAxes)
    _save(fig, out)


def _per_day(report: dict[str, Any], words: dict[str, Any], out: Out) -> None:
    fig = _figure()
    if not any(d["enquiries"] for d in report["per_day"]):
        return _no_data(fig, words["per_day"], words, out)
    ax = fig.add_subplot()
    days = [d["day"][5:] for d in report["per_day"]]
    x = list(range(len(days)))  # positions, not the day strings (matplotlib would guess they are dates)
    bottom = [0] * len(days)
    for kind in ("bot", "agent", "ticket", "abandoned", "open"):
        values = [d[kind] for d in report["per_day"]]
        ax.bar(x, values, bottom=bottom, label=words[kind], color=COLOURS[kind])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(x, days)
    ax.set_title(words["per_day"])
    ax.set_ylabel(words["enquiries"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", fontsize="small")
    if len(days) > 10:
        ax.tick_params(axis="x", labelrotation=60, labelsize="small")
    _save(fig, out)


def _satisfaction(report: dict[str, Any], words: dict[str, Any], out: Out) -> None:
    fig = _figure(6.0, 4.0)
    if not report["satisfaction"]["count"]:
        return _no_data(fig, words["satisfaction"], words, out)
    ax = fig.add_subplot()
    dist = report["satisfaction"]["distribution"]
    labels = words["rating_labels"] or [f"{d['rating']} {d['label']}" for d in dist]
    ax.bar(labels, [d["count"] for d in dist], color=["#4C9F70", "#8CBF88", "#E0A458", "#C8553D"])
    ax.set_title(words["satisfaction"])
    ax.set_ylabel(words["ratings"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _save(fig, out)


def _handle(report: dict[str, Any], words: dict[str, Any], out: Out) -> None:
    fig = _figure(6.0, 4.0)
    agents = report["handle_per_agent"]
    if not agents:
        return _no_data(fig, words["handle"], words, out)
    ax = fig.add_subplot()
    ax.barh([a["agent"] for a in agents], [a["mean"] for a in agents], color="#3A7CA5")
    ax.set_title(words["handle"])
    ax.set_xlabel(words["seconds"])
    _save(fig, out)


def _complaints(report: dict[str, Any], words: dict[str, Any], out: Out) -> None:
    fig = _figure(6.0, 4.0)
    grades = report["complaints"]["by_grade"]
    if not any(grades.values()):
        return _no_data(fig, words["complaints"], words, out)
    ax = fig.add_subplot()
    ax.bar([words["ungraded"] if g == "ungraded" else g for g in grades], list(grades.values()), color="#C8553D")
    ax.set_title(words["complaints"])
    ax.set_ylabel(words["count"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _save(fig, out)


def _entries(report: dict[str, Any], words: dict[str, Any], out: Out) -> None:
    fig = _figure()
    top = list(reversed(report["top_entries"]))
    if not top:
        return _no_data(fig, words["entries"], words, out)
    ax = fig.add_subplot()
    ax.barh([e["entry_id"] for e in top], [e["answers"] for e in top], color="#4C9F70")
    ax.set_title(words["entries"])
    ax.set_xlabel(words["answers"])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _save(fig, out)


def _teams(report: dict[str, Any], words: dict[str, Any], out: Out) -> None:
    fig = _figure(6.0, 4.0)
    teams = [t for t in report.get("per_team", []) if any(t["tickets"].values())]
    if not teams:
        return _no_data(fig, words["teams"], words, out)
    ax = fig.add_subplot()
    x = list(range(len(teams)))
    width = 0.27
    for i, (kind, colour) in enumerate((("opened", "#3A7CA5"), ("answered", "#4C9F70"), ("overdue", "#C8553D"))):
        ax.bar([p + (i - 1) * width for p in x], [t["tickets"][kind] for t in teams], width, label=words[kind],
               color=colour)
    ax.set_xticks(x, [t[words["team_label"]] for t in teams])
    ax.set_title(words["teams"])
    ax.set_ylabel(words["count"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper right", fontsize="small")
    _save(fig, out)


# name (the CLI's file name, the console's URL) -> drawing, in the order of the CLI's files
CHARTS: dict[str, Callable[[dict[str, Any], dict[str, Any], Out], None]] = {
    "enquiries_per_day": _per_day,
    "satisfaction": _satisfaction,
    "handle_time_per_agent": _handle,
    "complaints_by_grade": _complaints,
    "top_entries": _entries,
    "tickets_per_team": _teams,
}
