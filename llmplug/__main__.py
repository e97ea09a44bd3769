"""Command line: ``python -m llmplug chat "PROMPT"`` (also installed as ``llmplug``),
``llmplug bulk input.jsonl -o output.jsonl`` (see :mod:`llmplug.bulk_cli`) and
``llmplug batch submit|status|results|cancel|list`` (see :mod:`llmplug.batch_cli`).

``--offline`` answers from the bundled fake API on 127.0.0.1, so it runs with
no key and no network (so ``--provider`` and ``--base-url`` do not go with it).
Output piped into a reader that stops early (``| head``) ends the command
quietly, with status 141 as for a process killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import llmplug


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmplug", description="Talk to LLM HTTP APIs.")
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="send one prompt and stream the reply")
    chat.add_argument("prompt", help="what to say")
    chat.add_argument("--provider", help="provider name (default: openai; see 'llmplug providers')")
    chat.add_argument("--model", help="model name (default: the provider's)")
    chat.add_argument("--transport", help="a name from 'llmplug transports' (default: the best installed)")
    chat.add_argument("--base-url", help="API base URL (for openai-compatible servers)")
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole reply")
    chat.add_argument("--offline", action="store_true", help="answer from the bundled fake API (no key, no network)")
    chat.set_defaults(usage_parser=chat)  # for usage errors about chat's own options
    bulk = sub.add_parser("bulk", help="run the calls of a JSONL file (OpenAI Batch API lines), results to another")
    bulk.add_argument("input", help='JSONL: {"custom_id", "method", "url", "body"} per line ("method" and "url" optional)')
    bulk.add_argument("-o", "--output", required=True, help="JSONL results, appended; a rerun skips the ids already there")
    bulk.add_argument("--endpoint", default="chat.create", help="the operation of lines with no url (default: chat.create)")
    bulk.add_argument("--concurrency", type=int, default=32, help="calls in flight at once (default: 32)")
    bulk.add_argument("--provider", help="provider name (default: openai); bodies are translated for it")
    bulk.add_argument("--transport", help="an async transport from 'llmplug transports' (default: the best installed)")
    bulk.add_argument("--base-url", help="API base URL (for openai-compatible servers)")
    bulk.set_defaults(usage_parser=bulk)
    batch = sub.add_parser("batch", help="jobs on the provider's batch engine: submit, status, results, cancel, list")
    actions = batch.add_subparsers(dest="action", required=True)
    submit = actions.add_parser("submit", help="submit the requests of a JSONL file; prints the job id")
    submit.add_argument("input", help='JSONL: {"custom_id", "method", "url", "body"} per line, as `llmplug bulk` reads')
    submit.add_argument("--endpoint", default="chat.create", help="the job's operation or url (default: chat.create)")
    status = actions.add_parser("status", help="where a job is; --wait follows it to its end")
    status.add_argument("id")
    status.add_argument("--wait", action="store_true", help="poll until the job ends, with a progress bar")
    status.add_argument("--poll-interval", type=float, default=10.0, help="seconds between polls at first (default: 10)")
    results = actions.add_parser("results", help="write a finished job's results, in input order")
    results.add_argument("id")
    results.add_argument("-o", "--output", required=True, help="JSONL results, in `llmplug bulk`'s output format")
    cancel = actions.add_parser("cancel", help="stop a job (what was done is kept)")
    cancel.add_argument("id")
    listing = actions.add_parser("list", help="the latest jobs")
    listing.add_argument("--limit", type=int, default=20, help="how many (default: 20)")
    for action in (submit, status, results, cancel, listing):
        action.add_argument("--provider", help="provider name (default: openai)")
        action.add_argument("--transport", help="a transport from 'llmplug transports' (default: the best installed)")
        action.add_argument("--base-url", help="API base URL")
    sub.add_parser("providers", help="list provider names")
    sub.add_parser("transports", help="list transport names, and what to install for those that are missing")
    sub.add_parser("plugins", help="list loaded plugins and what they register")
    return parser


class _StreamedText:
    """Streamed text on stdout; remembers a line left open, so an error line starts on its own."""

    open_line = False

    def __call__(self, chunk: Any) -> None:
        """Write choice 0's text of ``chunk`` (its refusal text when it carries no content)."""
        delta = chunk.choices[0].delta if chunk.choices and chunk.choices[0].index == 0 else None
        text = str(chunk) or (delta.refusal if delta is not None and delta.refusal else "")
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
            self.open_line = not text.endswith("\n")

    def end_line(self) -> None:
        if self.open_line:
            print()
            self.open_line = False


def _bulk(args: argparse.Namespace) -> int:
    """``llmplug bulk``: see :mod:`llmplug.bulk_cli`."""
    import asyncio

    from llmplug import bulk_cli

    skip = bulk_cli.done_ids(args.output)
    try:
        with open(args.input, encoding="utf-8") as lines:
            ids, calls = bulk_cli.read_calls(lines, args.endpoint, skip)
    except OSError as exc:
        raise llmplug.ConfigurationError(f"cannot read the input file: {exc}") from None
    if skip:
        print(f"llmplug: {len(skip)} already in {args.output}: skipped", file=sys.stderr)
    options = {"transport": args.transport, **({"base_url": args.base_url} if args.base_url else {})}
    display = bulk_cli.progress_display(len(calls))

    async def run() -> tuple[int, int]:
        async with llmplug.new_async(args.provider or "openai", **options) as client:
            with open(args.output, "a", encoding="utf-8") as output:
                return await bulk_cli.run_bulk(client, ids, calls, output, concurrency=args.concurrency, progress=display)

    try:
        done, failed = asyncio.run(run())
    except KeyboardInterrupt:
        display.close()
        print(f"llmplug: interrupted; {args.output} holds every call that ended: rerun to do the rest", file=sys.stderr)
        return 130
    display.close()
    print(f"llmplug: {done} calls, {failed} failed; results in {args.output}", file=sys.stderr)
    return 0 if not failed else 1


def _chat(args: argparse.Namespace, show: _StreamedText) -> int:
    with contextlib.ExitStack() as stack:
        options: dict[str, Any] = {"transport": args.transport}
        provider = args.provider or "openai"
        if args.offline:
            from llmplug.testing import FakeAPI

            fake = stack.enter_context(FakeAPI())
            provider, options["base_url"] = "openai-compatible", fake.base_url
            options["default_model"] = args.model or "fake-model"
        elif args.base_url:
            options["base_url"] = args.base_url
        client = stack.enter_context(llmplug.new(provider, **options))
        messages = [{"role": "system", "content": args.system}] if args.system else []
        messages.append({"role": "user", "content": args.prompt})
        params = {"model": args.model} if args.model else {}
        if args.no_stream:
            _, body, _ = client.create_chat_completion(messages, **params)
            message = body.choices[0].message if body.choices else None
            print(str(body) or (message.refusal if message is not None and message.refusal else ""))
            return 0
        client.create_chat_completion(messages, chunk_callback=show, **params)
        print()
    return 0


#: The library's hints in Python words, and the same in the command line's.
_CLI_HINTS = (
    (re.compile(r"pass model=\S*( \(or default_model=\.\.\. to llmplug\.new\))?"), "pass --model NAME"),
    (re.compile(r"pass api_key=\.\.\. or set"), "set"),
    (re.compile(r"needs base_url=\.\.\."), "needs --base-url URL"),
    (re.compile(r"llmplug\.new\(\.\.\., require_finish_reason=False\)"), "the Python API's require_finish_reason=False"),
)


def _cli_words(message: str) -> str:
    """``message`` with hints that name Python arguments turned into CLI flags."""
    for pattern, words in _CLI_HINTS:
        message = pattern.sub(words, message)
    return message


#: The exit status after the reader of stdout went away: 128 + SIGPIPE, as a shell reports.
BROKEN_PIPE_STATUS = 141


def _silence_stdout() -> None:
    """Point stdout at devnull, so that flushing it at exit raises no second BrokenPipeError
    (the Python documentation's advice in the ``signal`` module's notes on SIGPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by something with no file descriptor
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "chat" and args.offline:
        given = [flag for flag, value in (("--provider", args.provider), ("--base-url", args.base_url)) if value is not None]
        if given:
            args.usage_parser.error(f"--offline uses the bundled fake API: it cannot be combined with {' or '.join(given)}")
    show = _StreamedText()  # one per run: what it remembers is about this run's output
    try:
        if args.command == "providers":
            print("\n".join(llmplug.providers()))
            return 0
        if args.command == "transports":  # each name, and what to install for one that is missing
            print("\n".join(map(str, llmplug.default_plugin_manager().transport_status())))
            return 0
        if args.command == "plugins":
            for info in llmplug.plugins():
                source = "built-in" if info.builtin else f"{info.distribution or 'in code'} {info.version or ''}".strip()
                registers = ", ".join([*info.providers, *info.transports]) or "-"
                print(f"{info.name}  ({source})  registers: {registers}")
            return 0
        if args.command == "bulk":
            return _bulk(args)
        if args.command == "batch":
            from llmplug.batch_cli import batch_command

            return batch_command(args)
        return _chat(args, show)
    except llmplug.LLMPlugError as exc:
        show.end_line()  # a stream broke mid-line: end its partial text first
        print(f"llmplug: error: {_cli_words(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `llmplug chat ... | head -c 20`: the reader is gone
        _silence_stdout()
        return BROKEN_PIPE_STATUS


if __name__ == "__main__":
    raise SystemExit(main())
