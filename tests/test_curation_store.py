"""The console's knowledge entries in the records database, on SQLite and PostgreSQL:
the draft -> review -> publish / return -> withdraw workflow, roles, lost updates, the
history of every change, the published version, the check over both sources at publish
time, and the YAML export in knowledge/'s format."""

from __future__ import annotations

import pytest

from bot.config import PROJECT_ROOT
from bot.curation import store
from bot.curation.errors import CheckFailed, InvalidDraft, NotAllowed, WrongState
from bot.curation.export import export, render
from bot.curation.form import parse_draft
from bot.curation.served import check_served, check_strings, published_entries, served_knowledge
from bot.knowledge.entries import read_file

pytest_plugins = ["tests.records_fixtures"]

KNOWLEDGE = PROJECT_ROOT / "knowledge"
CATEGORIES = ["保护期限", "年费"]
FORM = {
    "category": "保护期限", "question": "专利到期了还能续期吗？",
    "alternatives": "专利到期后可以续吗\n专利过期了能延长吗\n专利到期后可以续吗",
    "answer": "不能。专利权期限届满即终止，不能续展；发明专利审查中有不合理延迟的，可以在授权后请求期限补偿。",
    "source_title": "《中华人民共和国专利法》", "source_article": "第四十二条", "source_date": "2020-10-17",
}


def draft(**changes):
    return parse_draft({**FORM, **changes}, CATEGORIES)


def test_form_requires_a_dated_source_and_says_which_field() -> None:
    d = draft()
    assert d.alternatives == ("专利到期后可以续吗", "专利过期了能延长吗")  # blank, repeated and the question dropped
    for field, message in (("source_title", "依据名称"), ("source_date", "依据的日期"), ("answer", "答复内容"),
                           ("question", "标准问题")):
        with pytest.raises(InvalidDraft, match=message):
            draft(**{field: ""})
    with pytest.raises(InvalidDraft, match="YYYY-MM-DD"):
        draft(source_date="2020/10/17")
    with pytest.raises(InvalidDraft, match="业务类别"):
        draft(category="商标")
    with pytest.raises(InvalidDraft, match="废止"):
        draft(answer="个人可以申请缓缴年费。")
    with pytest.raises(InvalidDraft, match="无法识别"):
        draft(question=["not", "text"])


def test_draft_publish_withdraw_with_history_and_versions(engine) -> None:
    check = check_strings(KNOWLEDGE)
    assert store.version(engine) == 0 and published_entries(engine) == (0, [])
    pk = store.create(engine, draft(), "li", origin_question="专利到期后可以续吗", origin_enquiry=7)
    row = store.get(engine, pk)
    assert (row.status, row.author, row.revision, row.origin_enquiry) == ("pending", "li", 1, 7)

    with pytest.raises(NotAllowed):
        store.publish(engine, pk, "li", False, 1, check)
    store.send_back(engine, pk, "lead", True, 1, "请补充期限补偿的条文")
    assert store.get(engine, pk).status == "returned"
    with pytest.raises(NotAllowed):
        store.edit(engine, pk, draft(), "wang", False, 2)  # another agent's draft
    store.edit(engine, pk, draft(source_article="第四十二条第二款"), "li", False, 2)
    with pytest.raises(WrongState):  # the supervisor's page still shows revision 2
        store.publish(engine, pk, "lead", True, 2, check)
    assert store.publish(engine, pk, "lead", True, 3, check) == 1
    version, entries = published_entries(engine)
    assert version == 1 and [e.id for e in entries] == [f"console-{pk}"]
    assert entries[0].source.article == "第四十二条第二款" and entries[0].reviewed

    with pytest.raises(WrongState):
        store.edit(engine, pk, draft(), "li", False, 4)  # published entries are withdrawn, not edited
    assert store.withdraw(engine, pk, "lead", True, 4, "已并入 knowledge/term.yml") == 2
    assert published_entries(engine) == (2, [])

    steps = [(h.action, h.actor) for h in store.history(engine, pk)]
    assert steps == [("create", "li"), ("return", "lead"), ("edit", "li"), ("publish", "lead"), ("withdraw", "lead")]
    edit = store.history(engine, pk)[2]
    assert edit.changes["source_article"] == ["第四十二条", "第四十二条第二款"]
    assert edit.changes["status"] == ["returned", "pending"]
    assert store.history(engine, pk)[1].note == "请补充期限补偿的条文"
    assert store.counts(engine) == {"withdrawn": 1}


def test_publish_runs_the_check_over_files_and_published_entries(engine) -> None:
    check = check_strings(KNOWLEDGE)
    file_question = read_file(KNOWLEDGE / "term.yml")[0].question
    dup = store.create(engine, draft(question=file_question), "li")
    with pytest.raises(CheckFailed) as failed:
        store.publish(engine, dup, "lead", True, 1, check)
    assert any("also belongs to term-start-date" in p for p in failed.value.problems)
    assert store.get(engine, dup).status == "pending" and store.version(engine) == 0

    first = store.create(engine, draft(), "li")
    assert store.publish(engine, first, "lead", True, 1, check) == 1
    second = store.create(engine, draft(alternatives="专利过期了能延长吗"), "wang")  # same question again
    with pytest.raises(CheckFailed):
        store.publish(engine, second, "lead", True, 1, check)
    _, published = published_entries(engine)
    count, problems = check_served(KNOWLEDGE, published)
    assert problems == [] and count == len(served_knowledge(KNOWLEDGE, published))


def test_export_writes_knowledge_files_that_read_back_equal(engine, tmp_path) -> None:
    check = check_strings(KNOWLEDGE)
    pk = store.create(engine, draft(answer="不能：专利权期限届满即终止，不能续展。"), "li")
    store.publish(engine, pk, "lead", True, 1, check)
    other = store.create(engine, draft(category="年费", question="年费缴费通知书没收到还要交吗？",
                                       alternatives="", source_article=""), "li")
    store.publish(engine, other, "lead", True, 1, check)
    _, entries = published_entries(engine)
    paths = export(entries, KNOWLEDGE, tmp_path)
    assert sorted(p.name for p in paths) == ["annual_fees.console.yml", "term.console.yml"]
    back = [e for p in paths for e in read_file(p)]
    assert sorted((e.id, e.category, e.question, e.alternatives, e.answer, e.source, e.reviewed) for e in back) == \
        sorted((e.id, e.category, e.question, e.alternatives, e.answer, e.source, e.reviewed) for e in entries)
    text = (tmp_path / "term.console.yml").read_text(encoding="utf-8")
    assert text.startswith("category: 保护期限\nentries:\n  - id: console-")
    assert "    answer: >-\n      不能：专利权期限届满即终止，不能续展。\n" in text
    assert '      article: ""' in (tmp_path / "annual_fees.console.yml").read_text(encoding="utf-8")
    # exported beside the files, the check sees the same entries twice: review them in, then withdraw
    assert render("年费", entries[1:]).count("  - id:") == 1


def test_doctor_says_which_action_server_serves_what_and_why_a_rebuild_failed(engine) -> None:
    from datetime import UTC, datetime

    from bot.cli.doctor import check_knowledge_servers

    now = datetime.now(UTC)
    store.report_server(engine, store.ServerState("a:5055", "serving", 2, 2, 342, None, 80.0, now))
    store.report_server(engine, store.ServerState("b:5055", "failed", 1, 2, 341, "知识库检查未通过：x", 3.0, now))
    store.report_server(engine, store.ServerState("c:5055", "building", 1, 2, 341, None, None, now))
    store.report_server(engine, store.ServerState("c:5055", "building", 1, 2, 341, None, None, now))  # an update
    found = {f.name: f for f in check_knowledge_servers(engine, 2)}
    assert found["action server a:5055"].ok
    assert not found["action server b:5055"].ok and not found["action server b:5055"].warning
    assert "知识库检查未通过" in found["action server b:5055"].detail
    assert not found["action server c:5055"].ok and found["action server c:5055"].warning


def test_knowledge_check_and_export_commands_cover_the_published_entries(engine, db_url, tmp_path, monkeypatch,
                                                                        capsys) -> None:
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PATENTDESK_HOME", str(PROJECT_ROOT))
    assert main(["knowledge", "export", "--out", str(tmp_path / "none")]) == 0
    assert "nothing to export" in capsys.readouterr().out
    pk = store.create(engine, draft(), "li")
    store.publish(engine, pk, "lead", True, 1, check_strings(KNOWLEDGE))
    assert main(["knowledge", "check"]) == 0
    assert "1 published in the console" in capsys.readouterr().out
    assert main(["knowledge", "export", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "term.console.yml").exists()
    # exported into a copy of knowledge/ while still published: the check over both sources fails
    folder = tmp_path / "knowledge"
    folder.mkdir()
    for path in KNOWLEDGE.glob("*.yml"):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "term.console.yml").write_bytes((tmp_path / "out" / "term.console.yml").read_bytes())
    capsys.readouterr()
    assert main(["knowledge", "check", "--folder", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "duplicate id (also in term.console.yml)" in out or "also belongs to" in out
    assert main(["knowledge", "check", "--folder", str(folder), "--files-only"]) == 0
