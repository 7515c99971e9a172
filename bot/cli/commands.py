"""The `patentdesk` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from bot.config import ConfigError, Settings, variables_markdown

log = logging.getLogger("patentdesk")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise SystemExit(f"configuration error: {exc}") from exc


def cmd_train(args: argparse.Namespace) -> int:
    from bot.runtime.training import TrainingError, train

    try:
        path = train(_settings(), force=args.force)
    except TrainingError as exc:
        log.error("%s", exc)
        return 1
    print(f"model: {path}")
    return 0


def _in_child(fn: Callable[[Settings], object], settings: Settings) -> None:
    """Run `fn(settings)` in a child process: the supervisor lives as long as the stack, and
    the encoder and index that building loads would otherwise stay in its memory (~90 MB)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(_discard, (fn, settings))  # re-raises the child's exception here


def _discard(fn: Callable[[Settings], object], settings: Settings) -> None:
    fn(settings)  # the index itself is not sent back


def _ensure_index(settings: Settings) -> None:
    """The index of the knowledge files and the console's published entries, built if stale."""
    from bot.curation.served import current_knowledge
    from bot.knowledge.service import load_or_build

    load_or_build(settings, kb=current_knowledge(settings)[1])


def cmd_run(args: argparse.Namespace) -> int:
    from bot.cli import doctor
    from bot.runtime.services import ServiceError, stack_specs
    from bot.runtime.supervisor import Supervisor
    from bot.runtime.training import TrainingError, train
    from bot.secrets import with_secrets

    settings = with_secrets(_settings())
    busy = [f for f in asyncio.run(doctor.check_services(settings)) if not f.ok or f.in_use]
    if busy:
        for f in busy:
            log.error("%s: %s (fix: %s)", f.name, f.detail, f.fix or "stop the running patentdesk first")
        return 1
    from bot.knowledge.encoders import EncoderError
    from bot.knowledge.entries import KnowledgeError

    try:
        model = train(settings)
        # the index too, before the stack starts: built inside the action server it would eat
        # the readiness time (encoding plus the ranker's fitting takes about 90 s on 2 cores)
        _in_child(_ensure_index, settings)
        specs = stack_specs(settings, model)
    except (TrainingError, ServiceError, KnowledgeError, EncoderError) as exc:
        log.error("%s", exc)
        return 1
    from sqlalchemy.exc import SQLAlchemyError

    from bot.console.accounts import ensure_demo_account

    try:
        demo_password = ensure_demo_account(settings)
    except SQLAlchemyError as exc:
        log.warning("records database unavailable (%s); no demo console account", exc)
        demo_password = None

    def on_ready() -> None:
        console = f"  agent console: {settings.gateway_public_url}/console/"
        if demo_password:
            console += f"  (log in as demo / {demo_password}; add agents with `patentdesk agents add`)"
        lines = [
            f"ready at {settings.gateway_public_url}",
            console,
            f"  WeChat webhook: {settings.wechat_webhook_url}   web chat: POST {settings.gateway_public_url}/api/chat",
            f"  Rasa: {settings.rasa_url} (REST webhook {settings.rest_webhook_url})",
            "  chat in a terminal: patentdesk shell   (Ctrl-C here stops everything)",
        ]
        if settings.wechat_simulator:
            lines.insert(1, f"  WeChat simulator, chat as a user: http://{settings.host}:{settings.wechat_sim_port}/")
        if settings.embedded_redis:
            lines.append(f"  embedded Redis: {settings.effective_redis_url} (data under {settings.var_dir / 'redis'})")
        for line in lines:
            supervisor.say("run", line, "1;32")

    supervisor = Supervisor(restarts=settings.supervisor_restarts)
    return asyncio.run(supervisor.serve(specs, settings.ready_timeout, on_ready))


def _questions(args: argparse.Namespace) -> list[str]:
    questions = list(args.question or [])
    if args.file:
        source = sys.stdin if args.file == "-" else Path(args.file).open(encoding="utf-8")
        with source:
            questions += [line.strip() for line in source if line.strip()]
    return questions


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.cli.ask import ask_all, ask_conversations, read_conversations

    if args.conversation:
        try:
            source = sys.stdin if args.conversation == "-" else Path(args.conversation).open(encoding="utf-8")
        except OSError as exc:
            print(f"cannot read {args.conversation}: {exc.strerror}", file=sys.stderr)
            return 2
        with source:
            conversations = read_conversations(source)
        if not conversations:
            print(f"no conversation in {args.conversation}: one message per line, a blank line between conversations",
                  file=sys.stderr)
            return 2
        rows = ask_conversations(_settings(), conversations)
    else:
        rows = None
    questions = [] if rows is not None else _questions(args)
    if rows is None and not questions:
        print("nothing to ask: give questions as arguments, --file FILE or --conversation FILE", file=sys.stderr)
        return 2

    async def go() -> None:
        async for row in rows if rows is not None else ask_all(_settings(), questions):
            if args.json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
            else:
                extra = f" [{row['decision']}" + (f" {row['entry_id']} {row['confidence']}" if row["entry_id"] else "") + "]"
                print(f"问：{row['question']}\n答：{row['text']}{extra}\n", flush=True)

    try:
        asyncio.run(go())
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return 1
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    from bot.cli.shell import chat

    try:
        return asyncio.run(chat(_settings()))
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from bot.cli import doctor

    settings = _settings()
    if args.wechat:  # the official account's live configuration only (the demo's secrets from var/secrets)
        from bot.cli.wechat_doctor import check_wechat
        from bot.secrets import with_secrets

        return doctor.report(asyncio.run(check_wechat(with_secrets(settings))))
    return doctor.report(doctor.run_checks(settings))


def cmd_knowledge_check(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.curation.served import check_served, published_entries, records_engine
    from bot.knowledge.entries import Entry
    from bot.knowledge.service import knowledge_dir

    settings = _settings()
    folder = Path(args.folder) if args.folder else knowledge_dir(settings)
    entries: list[Entry] = []
    if not args.files_only:
        try:
            _version, entries = published_entries(records_engine(settings))
        except SQLAlchemyError as exc:
            print(f"FAIL records database: cannot read the console's published entries ({exc}); "
                  "fix DATABASE_URL or use --files-only")
            return 1
    count, problems = check_served(folder, entries)
    for p in problems:
        print(f"FAIL {p}")
    print(f"{count} entries checked ({count - len(entries)} from {folder}, {len(entries)} published in the console), "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_knowledge_export(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.curation.export import export
    from bot.curation.served import published_entries, records_engine
    from bot.knowledge.service import knowledge_dir

    settings = _settings()
    out = Path(args.out) if args.out else settings.var_dir / "knowledge-export"
    try:
        version, entries = published_entries(records_engine(settings))
    except SQLAlchemyError as exc:
        print(f"cannot read the records database ({exc}); check DATABASE_URL")
        return 1
    if not entries:
        print("no entries are published in the console; nothing to export")
        return 0
    for path in export(entries, knowledge_dir(settings), out):
        print(f"wrote {path}")
    print(f"{len(entries)} entries of published version {version}; review them into knowledge/, "
          "then withdraw them in the console")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from bot.knowledge.service import build_index

    settings = _settings()
    with Progress(transient=False) as progress:
        task = progress.add_task("encoding phrasings and answers", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        index = build_index(settings, progress=tick)
    meta = index.meta()
    print(f"index: {meta['entries']} entries, {meta['phrasings']} phrasings, encoder {meta['encoder']} "
          f"(dim {meta['dim']}), hash {meta['content_hash']}, built in {meta['built_seconds']}s")
    print(f"thresholds (calibrated on the dev split): {json.dumps(meta['thresholds'])} {json.dumps(meta['calibration'])}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.knowledge.report import SETS, run_eval

    sets = tuple(x.strip() for x in args.sets.split(",") if x.strip())
    unknown = [x for x in sets if x not in SETS]
    if unknown or not sets:
        print(f"unknown --sets {', '.join(unknown) or '(none)'}: choose from {', '.join(SETS)}", file=sys.stderr)
        return 2
    try:
        return run_eval(_settings(), split=args.split, out=Path(args.out) if args.out else None,
                        show_wrong=not args.quiet, sets=sets)
    except FileNotFoundError as e:  # no trained model for the served sets: say what to run
        print(f"cannot evaluate: {e}", file=sys.stderr)
        return 2


def cmd_wechat_sim(args: argparse.Namespace) -> int:
    from bot.simulator.__main__ import main as simulator_main

    return simulator_main([])


def cmd_gateway(args: argparse.Namespace) -> int:
    from bot.gateway.__main__ import main as gateway_main

    gateway_main(["--port", str(args.port)] if args.port else [])
    return 0


def cmd_rasa(args: argparse.Namespace) -> int:
    """An action server and a Rasa server only: one of several behind the gateways."""
    import dataclasses

    from bot.runtime.services import ServiceError, actions_spec, rasa_spec, redacted
    from bot.runtime.supervisor import Supervisor
    from bot.runtime.training import model_path
    from bot.secrets import with_secrets

    settings = with_secrets(_settings())
    if args.port:
        settings = dataclasses.replace(settings, rasa_port=args.port)
    model = model_path(settings)
    if not model.exists():
        log.error("no model %s: run `patentdesk train` once and copy models/ to every Rasa machine "
                  "(all servers must serve the same model file)", model.name)
        return 1
    try:
        specs = [rasa_spec(settings, model)] if args.no_actions else [actions_spec(settings), rasa_spec(settings, model)]
    except ServiceError as exc:
        log.error("%s", exc)
        return 1

    def on_ready() -> None:
        tracker = redacted(settings.rasa_tracker_store_url) or "in memory"
        lock = redacted(settings.rasa_lock_store_url) or "in memory"
        supervisor.say("run", f"Rasa ready at http://{settings.host}:{settings.rasa_port} "
                              f"(tracker store {tracker}, lock store {lock})", "1;32")

    supervisor = Supervisor(restarts=settings.supervisor_restarts)
    return asyncio.run(supervisor.serve(specs, settings.ready_timeout, on_ready))


def cmd_config(args: argparse.Namespace) -> int:
    print(variables_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patentdesk", description="Patent-procedure customer-service assistant")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="train if needed and start every process (Ctrl-C stops all)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("train", help="train the Rasa model if its inputs changed")
    p.add_argument("--force", action="store_true", help="train even if the model is up to date")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("shell", help="chat with the assistant in the terminal")
    p.set_defaults(func=cmd_shell)
    p = sub.add_parser("ask", help="ask questions as a user would (one fresh conversation each)")
    p.add_argument("question", nargs="*")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--file", help="read one question per line (- for stdin)")
    p.add_argument("--conversation", metavar="FILE",
                   help="conversations separated by blank lines, one user message per line; each one fresh user")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("doctor", help="check environment, ports, Redis, model and index")
    p.add_argument("--wechat", action="store_true",
                   help="check the official account instead: token, IP whitelist, AES key, server URL, menu")
    p.set_defaults(func=cmd_doctor)
    p = sub.add_parser("knowledge", help="knowledge-base tools")
    ksub = p.add_subparsers(dest="knowledge_command", required=True)
    k = ksub.add_parser("check", help="reject entries without a source, duplicates, empty or long answers")
    k.add_argument("--folder", help="knowledge folder (default: knowledge/)")
    k.add_argument("--files-only", action="store_true",
                   help="check the files alone, not the entries published in the console")
    k.set_defaults(func=cmd_knowledge_check)
    k = ksub.add_parser("export", help="write the console's published entries as knowledge/*.yml files")
    k.add_argument("--out", help="folder to write into (default var/knowledge-export/)")
    k.set_defaults(func=cmd_knowledge_export)
    p = sub.add_parser("index", help="build the retrieval index and calibrate its thresholds")
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("eval", help="evaluate retrieval and the answer policy on data/eval")
    p.add_argument("--split", choices=("test", "dev", "all"), default="test")
    p.add_argument("--out", help="JSON report path (default var/reports/eval.json)")
    p.add_argument("--quiet", action="store_true", help="do not list the wrong answers")
    p.add_argument("--sets", default="split,real,dialogues,computed,streams",
                   help="comma-separated: split (retrieval on the labelled split); real, dialogues (--split "
                        "picks dev.yml or test.yml), computed (fees and time limits, likewise) and streams (the "
                        "split's questions asked four in a row by one user, on unrelated topics), asked through "
                        "the served assistant, started privately if none runs")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("wechat-sim", help="run the local WeChat platform simulator (chat page + platform API)")
    p.set_defaults(func=cmd_wechat_sim)
    p = sub.add_parser("gateway", help="run only the gateway (WeChat webhook, web chat)")
    p.add_argument("--port", type=int, help="port to listen on (default GATEWAY_PORT)")
    p.set_defaults(func=cmd_gateway)
    p = sub.add_parser("rasa", help="run only an action server and a Rasa server (one of several)")
    p.add_argument("--port", type=int, help="Rasa port (default RASA_PORT)")
    p.add_argument("--no-actions", action="store_true", help="use the action server already at ACTIONS_PORT")
    p.set_defaults(func=cmd_rasa)
    p = sub.add_parser("config", help="print the configuration variables as a Markdown table")
    p.set_defaults(func=cmd_config)
    from bot.cli.wechat import register as register_wechat

    register_wechat(sub, _settings)  # wechat menu show|diff|push, wechat qrcode
    from bot.console.cli import register as register_agents

    register_agents(sub, _settings)
    from bot.records.cli import add_parsers as add_records_parsers

    add_records_parsers(sub, _settings)  # records migrate|list|show|export|purge, report
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
