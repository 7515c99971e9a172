"""Published entries serve without a restart: the watcher notices the published version,
rebuilds in a separate low-priority process reusing the vectors of unchanged texts, and
swaps the index in; searches keep answering meanwhile; a failing check or calibration
leaves the old index serving and says why in kb_servers. A small knowledge base (three
real topic files) keeps each rebuild to seconds; everything else is real: SQLite, the
rebuild process, the encoder, the calibration."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bot.curation import rebuild, store
from bot.curation.form import parse_draft
from bot.curation.served import check_strings, current_knowledge
from bot.curation.watcher import KnowledgeWatcher
from bot.knowledge import dialogue
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.service import knowledge_dir, load_or_build
from bot.records.migrate import migrate
from bot.records.store import make_engine
from tests.knowledge_kit import small_settings

pytestmark = pytest.mark.slow

# a topic the small base does not answer (its files hold the term, fees and changes, not
# publication), so the published entry is the one answer, not a near-twin of an old one
QUESTION = "发明专利申请可以请求提前公布吗？"
ASKED = "发明专利能不能早点公布出来"
FORM = {
    "category": "审查流程", "question": QUESTION,
    "alternatives": "发明申请能提前公开吗\n不想等18个月才公布可以吗\n怎么让发明专利早点公布\n申请提前公布怎么弄",
    "answer": "可以。发明专利申请经初步审查认为符合要求的，自申请日起满十八个月即行公布；申请人也可以请求早日公布其申请。",
    "source_title": "《中华人民共和国专利法》", "source_article": "第三十四条", "source_date": "2020-10-17",
}


class Holder:
    """What actions/knowledge_holder does for the action server: one served index, swapped."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index
        self.swaps = 0

    def get(self) -> KnowledgeIndex:
        return self.index

    def swap(self, index: KnowledgeIndex) -> None:
        self.index = index
        self.swaps += 1


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, small_base):
    home, built = small_base
    settings = small_settings(tmp_path_factory.mktemp("swap"), home, built)
    engine = make_engine(settings.database_url)
    migrate(engine)
    version, kb = current_knowledge(settings)
    holder = Holder(load_or_build(settings, kb=kb))
    watcher = KnowledgeWatcher(settings, holder.get, holder.swap, version, name="test:1")
    yield settings, engine, holder, watcher
    engine.dispose()


def publish(settings, engine, **changes) -> int:
    pk = store.create(engine, parse_draft({**FORM, **changes}, []), "li")
    store.publish(engine, pk, "lead", True, 1, check_strings(knowledge_dir(settings)))
    return pk


def test_a_publish_is_served_after_a_background_rebuild_and_searches_go_on(desk) -> None:
    settings, engine, holder, watcher = desk
    before = holder.index
    assert dialogue.ask(before, ASKED).entry_id != "console-1"
    assert watcher.poll() is None  # nothing published: nothing to do

    pk = publish(settings, engine)
    answered: list[float] = []
    done = threading.Event()

    def search_meanwhile() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            hits = holder.get().search("年费晚交了怎么办")
            assert hits
            answered.append(time.perf_counter() - t0)

    searcher = threading.Thread(target=search_meanwhile)
    searcher.start()
    try:
        outcome = watcher.poll()
    finally:
        done.set()
        searcher.join()
    assert outcome is not None and outcome.ok, outcome
    assert len(answered) > 10  # the old index answered all through the rebuild
    assert holder.swaps == 1 and holder.index is not before
    assert holder.index.entry(f"console-{pk}") is not None and len(holder.index.kb) == len(before.kb) + 1
    details = outcome.details
    # the unchanged phrasings' vectors were reused: only the new entry's texts were encoded
    # at most the new entry's texts (question, phrasings, answer) are encoded: the vector memory
    # is shared with every build of this checkout, which may have met one of them already
    assert details["encoded"] <= len(FORM["alternatives"].splitlines()) + 2, details
    assert details["reused"] > 1000, details

    turn = dialogue.ask(holder.index, ASKED)
    assert turn.entry_id == f"console-{pk}" and turn.decision == "answer", (turn.decision, turn.candidates)
    assert "请求早日公布" in turn.text and "（依据：《中华人民共和国专利法》第三十四条）" in turn.text
    [status] = store.servers(engine)
    assert (status.server, status.state, status.version, status.message) == ("test:1", "serving", 1, None)
    assert watcher.poll() is None  # served: no second rebuild

    # a restart loads what the watcher swapped in (saved under var/index/), no rebuild
    version, kb = current_knowledge(settings)
    assert version == 1 and KnowledgeIndex.load(settings.var_dir, kb, holder.index.encoder).entry(f"console-{pk}")

    # withdrawn: no longer served, also without a restart
    store.withdraw(engine, pk, "lead", True, 2, "测试撤回")
    outcome = watcher.poll()
    assert outcome is not None and outcome.ok and holder.index.entry(f"console-{pk}") is None
    assert dialogue.ask(holder.index, ASKED).entry_id != f"console-{pk}"


def test_a_failing_check_or_calibration_keeps_the_old_index_and_says_why(desk) -> None:
    settings, engine, holder, watcher = desk
    serving = holder.index
    pk = publish(settings, engine, question="专利过期后能申请续展吗？", alternatives="专利期满后还能延长保护吗",
                 category="保护期限", answer="不能。专利权期限届满即终止，不能续展。", source_article="第四十二条")
    # meanwhile someone adds the same question to knowledge/: the check over both sources fails
    extra = Path(knowledge_dir(settings)) / "zz_clash.yml"
    extra.write_text("category: 保护期限\nentries:\n  - id: term-clash\n    question: 专利过期后能申请续展吗？\n"
                     "    answer: 不能。\n    source:\n      title: 《中华人民共和国专利法》\n      article: 第四十二条\n"
                     "      date: 2020-10-17\n    reviewed: 2026-12-05\n", encoding="utf-8")
    try:
        outcome = watcher.poll()
    finally:
        extra.unlink()
    assert outcome is not None and not outcome.ok and holder.index is serving
    assert "知识库检查未通过" in outcome.message and "term-clash" in outcome.message
    [status] = store.servers(engine)
    assert status.state == "failed" and status.version < status.wanted and "知识库检查未通过" in status.message
    assert watcher.poll() is None  # the same version is not retried in a loop

    # a calibration that falls below the served index's is not swapped in either
    serving.calibration["dev_top1"] = 1.5
    try:
        store.withdraw(engine, pk, "lead", True, 2, "重试")
        outcome = watcher.poll()
    finally:
        serving.calibration["dev_top1"] = None
    assert outcome is not None and not outcome.ok and holder.index is serving
    assert "首位命中率" in outcome.message
    assert store.servers(engine)[0].state == "failed"
    assert rebuild.calibration_problem({"dev_top1": 0.97, "ranker": {"answer_threshold": 1.01}}, 0.97, 0.9)
    assert rebuild.calibration_problem({"dev_top1": 0.97, "ranker": {"answer_threshold": 0.9}}, 0.98, 0.9) is None
