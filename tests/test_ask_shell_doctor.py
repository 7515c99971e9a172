"""The CLI as a user runs it, against real Rasa and action servers on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from bot.cli.ask import CONTRACT_KEYS
from bot.config import Settings
from tests.conftest import child_env, make_env


def patentdesk(*args: str, env: dict[str, str], stdin: str | None = None, timeout: int = 300):
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
                          env=child_env(env), timeout=timeout)


def env_for(settings: Settings, rasa_url: str) -> dict[str, str]:
    env = make_env(settings.var_dir)
    env["RASA_URL"] = rasa_url
    return env


def test_ask_json_contract_on_the_running_assistant(settings: Settings, rasa_url: str) -> None:
    tech = "电子申请客户端提交时一直报错，提示“签名验证失败，错误代码 E3021”"
    questions = ["你好", "个人申请专利能减费吗", "转人工", "今天天气怎么样", "谢谢", "你们服务太差了，我要投诉", tech]
    result = patentdesk("ask", "--json", *questions, env=env_for(settings, rasa_url))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [r["question"] for r in rows] == questions
    for row in rows:
        assert tuple(row) == CONTRACT_KEYS
        assert row["decision"] in {"answer", "clarify", "handoff", "fallback", "smalltalk", "out_of_scope"}
        assert row["text"]
    by_q = {r["question"]: r for r in rows}
    assert by_q["你好"]["decision"] == "smalltalk" and "您好" in by_q["你好"]["text"]
    fee = by_q["个人申请专利能减费吗"]
    assert fee["decision"] in {"answer", "clarify"}, fee
    if fee["decision"] == "answer":
        assert fee["entry_id"].startswith("fee-reduction") and "依据" in fee["text"] and fee["confidence"] > 0
    else:
        assert any(c["id"].startswith("fee-reduction") for c in fee["candidates"])
    assert by_q["转人工"]["decision"] == "handoff"
    assert by_q["你们服务太差了，我要投诉"]["decision"] == "handoff"
    assert "抱歉" in by_q["你们服务太差了，我要投诉"]["text"]
    assert by_q["今天天气怎么样"]["decision"] == "out_of_scope"
    assert by_q["谢谢"]["decision"] == "smalltalk"
    # "team": the team a handoff goes to (the default one unless a technical problem), null otherwise
    assert by_q["转人工"]["team"] == "business" and by_q["你们服务太差了，我要投诉"]["team"] == "business"
    assert (by_q[tech]["decision"], by_q[tech]["team"]) == ("handoff", "tech"), by_q[tech]
    assert "技术支持" in by_q[tech]["text"]
    assert all(r["team"] is None for r in rows if r["decision"] != "handoff")


def test_ask_conversation_runs_each_conversation_as_one_user(settings: Settings, rasa_url: str,
                                                             tmp_path: Path) -> None:
    """Issue 14's contract: today's fields plus "conversation" and "turn", both from 0."""
    conversations = tmp_path / "c.txt"
    conversations.write_text("发明专利申请费多少\n那实用新型呢\n谢谢\n\n\n我是学生\n转人工\n", encoding="utf-8")
    result = patentdesk("ask", "--json", "--conversation", str(conversations), env=env_for(settings, rasa_url))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [(r["conversation"], r["turn"]) for r in rows] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    for row in rows:
        assert tuple(row)[: len(CONTRACT_KEYS)] == CONTRACT_KEYS
    assert (rows[0]["decision"], rows[0]["entry_id"]) == ("answer", "fee-application-amount")
    assert (rows[1]["decision"], rows[1]["entry_id"]) == ("answer", "fee-application-amount"), "type follow-up"
    assert rows[2]["decision"] == "smalltalk"
    assert rows[3]["decision"] == "smalltalk" and "机器人" not in rows[3]["text"], "我是学生 is not 'are you a bot'"
    assert rows[4]["decision"] == "handoff"
    missing = patentdesk("ask", "--json", "--conversation", str(tmp_path / "nope.txt"), env=env_for(settings, rasa_url))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr


def test_ask_file_starts_and_stops_its_own_servers(settings: Settings, model: Path, index, tmp_path: Path) -> None:
    questions = tmp_path / "q.txt"
    questions.write_text("发明专利申请费多少钱\n\n年费晚交了怎么办\n", encoding="utf-8")
    env = make_env(settings.var_dir)  # RASA_URL points at a free port: nothing runs there
    result = patentdesk("ask", "--json", "--file", str(questions), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == ["发明专利申请费多少钱", "年费晚交了怎么办"]
    assert all(r["decision"] in {"answer", "clarify"} for r in rows), rows
    with socket.socket() as s:  # its private Rasa is gone again
        assert s.connect_ex(("127.0.0.1", int(env["RASA_PORT"]))) != 0


def test_shell_conversation(settings: Settings, rasa_url: str) -> None:
    script = "你好\n个人申请专利能减费吗\n转人工\n谢谢\n/quit\n"
    result = patentdesk("shell", env=env_for(settings, rasa_url), stdin=script)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    replies = [line for line in out.splitlines() if "助手>" in line]
    assert len(replies) >= 4, out
    assert "欢迎" in out and "人工" in out and "不客气" in out
    assert "费" in out and "减" in out


def test_doctor_passes_on_a_ready_installation(settings: Settings, model: Path, index) -> None:
    result = patentdesk("doctor", env=make_env(settings.var_dir))
    assert result.returncode == 0, result.stdout
    assert "all checks passed" in result.stdout
    assert "[ok  ] model: up to date" in result.stdout


def test_doctor_explains_what_is_wrong(settings: Settings, tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        bad_teams = tmp_path / "teams.yml"
        bad_teams.write_text("teams:\n  技术支持:\n    members: [tech1]\n", encoding="utf-8")
        env = make_env(tmp_path / "var", PATENTDESK_MODEL_DIR=str(tmp_path / "no-models"),
                       ACTIONS_PORT=str(blocker.getsockname()[1]), HANDOFF_TEAMS=str(bad_teams))
        result = patentdesk("doctor", env=env)
    assert result.returncode == 1
    out = result.stdout
    assert "[FAIL] model: no trained model yet" in out and "patentdesk train" in out
    assert "[FAIL] actions port" in out and "ACTIONS_PORT" in out
    assert "[warn] index" in out and "patentdesk index" in out
    assert "[FAIL] teams" in out and "team id '技术支持'" in out and "HANDOFF_TEAMS" in out


def test_eval_without_a_trained_model_says_what_to_run(tmp_path: Path) -> None:
    """The served sets need a model: without one, a clear message and exit 2, no traceback,
    and before any index work (no index is built into the empty var/)."""
    var = tmp_path / "var"
    env = child_env(make_env(var, PATENTDESK_MODEL_DIR=str(tmp_path / "no-models"),
                             PATENTDESK_VECTOR_MEMORY=str(tmp_path / "vectors")))
    result = patentdesk("eval", "--sets", "computed", "--quiet", "--out", str(tmp_path / "e.json"), env=env)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "patentdesk train" in result.stderr and "Traceback" not in result.stderr
    assert not (var / "index").exists() and not (tmp_path / "vectors").exists()
