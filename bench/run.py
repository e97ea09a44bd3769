"""Every performance figure of issue 12, measured side by side in one run.

    python bench/run.py                  # every row, full run (~5 minutes; rows 10-12 take ~3)
    python bench/run.py --quick          # fewer requests and rounds: a smoke run (~90 s)
    python bench/run.py --only 1,3,7     # some rows
    python bench/run.py --instructions   # add rows 1i 3i 7i: instructions under valgrind (+2-4 min)
    python bench/run.py --json           # machine-readable output

openai-python and aiohttp rows need ``pip install -e '.[bench]'`` and are skipped without it.

How it measures: the fake OpenAI server (:class:`llmplug.testing.FakeAPI`)
runs in its own process pinned to one CPU; every contender runs in a fresh
process of its own (``run.py --worker NAME ...``, printing one JSON line)
pinned to the other CPU (nothing is pinned on a single-CPU machine). Each
round runs every contender once, in reversed order every other round
(A B, B A, ...), so drift hits all alike; a figure is the median of the
rounds, and the ``rounds`` column the range of the round-by-round ratios (how
noisy the machine was). Raw baselines send the very body and headers llmplug
sends, so the server does the same work for both.

The rows (value = numerator / denominator, the goal beside it):

1. chat req/s, llmplug(httpx) / raw ``httpx.Client.post`` + ``json.loads``  (>= 0.95)
2. chat req/s, llmplug(httpx) / openai-python                             (>= 3)
3. 1000-chunk stream chunks/s, llmplug(httpx) / raw httpx ``iter_lines``
   + ``json.loads``                                                       (>= 0.85)
4. stream chunks/s, llmplug(httpx) / openai-python                        (>= 6)
5. wall time of ``python -c "import llmplug"`` / ``"import openai"``        (<= 0.12)
6. the same with a client built: ``llmplug.new("openai", transport="httpx")``
   / ``openai.OpenAI()``                                                  (<= 0.2)
7. chat req/s, llmplug's stdlib transport (``transport="urllib"``) /
   raw ``urllib.request.urlopen`` + ``json.loads``                        (>= 1.5)
8. chat req/s, llmplug(urllib) / llmplug(httpx)                           (>= 2)
9. peak RSS (``ru_maxrss``) after one chat request, llmplug(httpx) / raw httpx (<= 1.1)
10. async, 1000 chat requests at concurrency 64, req/s: ``AsyncClient(httpx)``
   / openai-python's ``AsyncOpenAI``                                     (>= 3)
   10a. the same with ``AsyncClient(aiohttp)``                            (>= 3)
11. the same requests, ``AsyncClient(httpx)`` / raw ``httpx.AsyncClient.post``
   + ``json.loads``                                                       (>= 0.9)
   11a. the same with ``AsyncClient(aiohttp)``                            (>= 0.9)
   11m. ``await client.map(calls, concurrency=64)`` (httpx) / raw httpx    (>= 0.9)
12. 64 concurrent 1000-chunk streams, chunks/s: ``AsyncClient(httpx)``
   ``async for`` / ``AsyncOpenAI`` ``async for``                          (>= 5)
13. the strict JSON schema of a 50-field nested attrs class, as each call asks
   for it (cached per type), ms per call                                 (<= 1)
14. a 100 KB typed reply parsed into attrs instances (``json.loads`` + cattrs)
   per second / pydantic's ``model_validate_json`` into models of the same
   shape                                                                  (no goal)

Rows 13 and 14 run ``bench/bench_structured.py --measure NAME`` in a fresh
process per sample (``python bench/bench_structured.py`` prints them all,
the first, uncached schema call too).

Import rows (5, 6) time whole fresh interpreters (start-up included), many
times interleaved. With ``--instructions``, rows 1i, 3i and 7i count the
client process's instructions per request (per 1000-chunk stream) under
``valgrind --tool=callgrind``, minus a run doing no timed request, as
raw / llmplug so the goal reads as for the wall-clock row. They leave out
the server's time, so they are stricter than rows 1, 3 and 7, and the kernel's
(7i: raw urlopen's new connection per request costs mostly system time).

Async rows (10-12) run each contender on one ``asyncio.run`` loop: a sample is
``asyncio.gather`` over one coroutine per request (per stream), each holding
an ``asyncio.Semaphore(64)`` for its call; row 11m hands the same requests to
``client.map(..., concurrency=64)`` instead. A chat sample is 1000 requests, a
stream sample 64 streams started together, after a warm-up wave of 64 at
once. Every pool allows 64 connections or more, each its library's default:
httpx 100 (20 kept alive when idle) for raw httpx and llmplug's transport
alike, aiohttp 100, ``AsyncOpenAI`` (on httpx2) 1000 (100 kept alive). Raw
httpx keeps the default because keeping all 64 alive (``httpx.Limits(64, 64)``)
makes it about 3x slower here: httpcore's pool scans every connection for each
idle one. The server still answers on one CPU, so a row here is a ratio of
throughputs the server may cap: the table gives the CPU share the client and
the server used in the timed calls (medians; 100% = one CPU busy).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple

# ---------------------------------------------------------------- the wire

CHUNKS = 1000
#: Calls in flight at once in the async rows.
CONCURRENCY = 64
API_KEY = "sk-bench"
MODEL = "gpt-4.1"
MESSAGES = [{"role": "user", "content": "Say hello"}]
# Byte for byte what llmplug sends for create_chat_completion(MESSAGES[, stream=True]).
BODY = b'{"messages":[{"role":"user","content":"Say hello"}],"model":"gpt-4.1"}'
STREAM_BODY = b'{"stream":true,"messages":[{"role":"user","content":"Say hello"}],"model":"gpt-4.1"}'
HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/json",
    "User-Agent": "llmplug/0.1",
    "Authorization": f"Bearer {API_KEY}",
    "Accept-Encoding": "gzip, deflate",
}
STREAM_HEADERS = {**HEADERS, "Accept": "text/event-stream"}
#: Base URL path of each operation on the fake server: one scripted reply each.
PREFIX = {"chat": "/plain/v1", "stream": "/stream/v1"}


def completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! " * 20}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 40, "total_tokens": 43},
    }


def chunk_events() -> list[Any]:
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": MODEL}
    events: list[Any] = [
        {**head, "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}]}
        for i in range(CHUNKS - 1)
    ]
    events.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return [*events, "data: [DONE]\n\n"]


def serve() -> None:
    """The server process: print the fake API's URL, serve until stdin closes."""
    import threading

    from llmplug.testing import FakeAPI

    with FakeAPI() as api:
        api.queue("POST", PREFIX["chat"] + "/chat/completions", json=completion(), times=None)
        api.queue("POST", PREFIX["stream"] + "/chat/completions", events=chunk_events(), times=None)
        print(api.url, flush=True)
        closed = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
        while not closed.wait(0.5):
            api.requests.clear()  # nobody reads them: keep the server's heap (and its GC pauses) flat


# ---------------------------------------------------------------- contenders (worker side)


class Contender(NamedTuple):
    """One client: a chat call, a stream call returning its chunk count (or None), close."""

    chat: Callable[[], object]
    stream: Callable[[], int] | None
    close: Callable[[], object]


def llmplug_contender(base: str, transport: str) -> Contender:
    import llmplug

    client = llmplug.new("openai", api_key=API_KEY, base_url=base, transport=transport, max_retries=0)

    def chat() -> object:
        return client.create_chat_completion(MESSAGES)

    def stream() -> int:
        with client.create_chat_completion(MESSAGES, stream=True) as events:
            return sum(1 for _ in events)

    return Contender(chat, stream, client.close)


def raw_httpx_contender(base: str) -> Contender:
    import httpx

    client = httpx.Client()
    url = base + "/chat/completions"

    def chat() -> object:
        return json.loads(client.post(url, content=BODY, headers=HEADERS).content)

    def stream() -> int:
        n = 0
        with client.stream("POST", url, content=STREAM_BODY, headers=STREAM_HEADERS) as resp:
            for line in resp.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    n += 1
        return n

    return Contender(chat, stream, client.close)


def raw_urlopen_contender(base: str) -> Contender:
    import urllib.request

    url = base + "/chat/completions"

    def chat() -> object:
        with urllib.request.urlopen(urllib.request.Request(url, data=BODY, headers=HEADERS)) as resp:
            return json.loads(resp.read())

    return Contender(chat, None, lambda: None)


def openai_contender(base: str) -> Contender:
    import openai

    client = openai.OpenAI(base_url=base, api_key=API_KEY, max_retries=0)

    def chat() -> object:
        return client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    def stream() -> int:
        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as events:  # type: ignore[arg-type]
            return sum(1 for _ in events)

    return Contender(chat, stream, client.close)


class AsyncContender(NamedTuple):
    """An async client: coroutine functions as in :class:`Contender`, and optionally
    ``batch(op, n)``, which runs ``n`` calls its own way at :data:`CONCURRENCY`
    and returns the units done (instead of the harness's gather + semaphore)."""

    chat: Callable[[], Awaitable[object]]
    stream: Callable[[], Awaitable[int]] | None
    close: Callable[[], Awaitable[object]]
    batch: Callable[[str, int], Awaitable[int]] | None = None


def async_llmplug_contender(base: str, transport: str, mapped: bool = False) -> AsyncContender:
    """``AsyncClient(transport)``; ``mapped``: a lot of chats goes through ``client.map``."""
    import llmplug

    client = llmplug.new_async("openai", api_key=API_KEY, base_url=base, transport=transport, max_retries=0)
    one = llmplug.call("chat.create", messages=MESSAGES)

    async def chat() -> object:
        return await client.create_chat_completion(MESSAGES)

    async def stream() -> int:
        n = 0
        async with await client.create_chat_completion(MESSAGES, stream=True) as events:
            async for _ in events:
                n += 1
        return n

    async def batch(op: str, n: int) -> int:
        if op != "chat":
            raise SystemExit(f"client.map is measured on chat, not {op}")
        results = await client.map([one] * n, concurrency=CONCURRENCY)
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            raise failed
        return len(results)

    return AsyncContender(chat, stream, client.aclose, batch if mapped else None)


def async_raw_httpx_contender(base: str) -> AsyncContender:
    import httpx

    # httpx's default pool, the one llmplug's transport builds: 100 connections, 20 kept alive. Keeping
    # all 64 alive (Limits(64, 64)) makes it ~3x slower: httpcore's pool scans every connection per idle one.
    client = httpx.AsyncClient()
    url = base + "/chat/completions"

    async def chat() -> object:
        return json.loads((await client.post(url, content=BODY, headers=HEADERS)).content)

    async def stream() -> int:
        n = 0
        async with client.stream("POST", url, content=STREAM_BODY, headers=STREAM_HEADERS) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    n += 1
        return n

    return AsyncContender(chat, stream, client.aclose)


def async_openai_contender(base: str) -> AsyncContender:
    import openai

    # Its default pool (openai.DEFAULT_CONNECTION_LIMITS: 1000, 100 kept alive) already holds 64.
    client = openai.AsyncOpenAI(base_url=base, api_key=API_KEY, max_retries=0)

    async def chat() -> object:
        return await client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    async def stream() -> int:
        n = 0
        async with await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as events:  # type: ignore[arg-type]
            async for _ in events:
                n += 1
        return n

    return AsyncContender(chat, stream, client.close)


CONTENDERS: dict[str, Callable[[str], Contender]] = {
    "llmplug-httpx": lambda base: llmplug_contender(base, "httpx"),
    "llmplug-urllib": lambda base: llmplug_contender(base, "urllib"),
    "raw-httpx": raw_httpx_contender,
    "raw-urlopen": raw_urlopen_contender,
    "openai": openai_contender,
}
#: Built inside the worker's event loop (aiohttp wants one running).
ASYNC_CONTENDERS: dict[str, Callable[[str], AsyncContender]] = {
    "async-llmplug-httpx": lambda base: async_llmplug_contender(base, "httpx"),
    "async-llmplug-aiohttp": lambda base: async_llmplug_contender(base, "aiohttp"),
    "async-llmplug-httpx-map": lambda base: async_llmplug_contender(base, "httpx", mapped=True),
    "async-raw-httpx": async_raw_httpx_contender,
    "async-openai": async_openai_contender,
}


def worker(name: str, op: str, url: str, n: int, warmup: int) -> dict[str, Any]:
    """Build contender ``name``, make ``warmup`` then ``n`` timed ``op`` calls.

    Returns the units done in the timed calls (requests or chunks), the
    seconds they took and the process's peak RSS in KiB.
    """
    import resource

    contender = CONTENDERS[name](url + PREFIX[op])
    call = contender.chat if op == "chat" else contender.stream
    if call is None:
        raise SystemExit(f"{name} has no {op} call")
    for _ in range(warmup):
        got = call()
        if op == "stream" and got != CHUNKS:
            raise SystemExit(f"{name}: a stream gave {got} chunks, not {CHUNKS}")
    units = 0
    start = time.perf_counter()
    for _ in range(n):
        got = call()
        units += got if op == "stream" else 1  # type: ignore[operator]
    seconds = time.perf_counter() - start
    contender.close()
    return {"units": units, "seconds": seconds, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) process ``pid`` has used so far (0 when unknown)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def async_work(name: str, op: str, url: str, n: int, warmup: int, server_pid: int | None = None) -> dict[str, Any]:
    """:func:`worker` for an async contender: ``warmup`` then ``n`` ``op`` calls,
    each lot at :data:`CONCURRENCY` at once. Also returns the CPU time this
    process and the server (``server_pid``) used in the timed calls."""
    import asyncio
    import resource

    contender = ASYNC_CONTENDERS[name](url + PREFIX[op])
    call = contender.chat if op == "chat" else contender.stream
    if call is None:
        raise SystemExit(f"{name} has no {op} call")

    async def gathered(count: int) -> int:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> object:
            async with gate:
                return await call()

        got = await asyncio.gather(*(one() for _ in range(count)))
        if op == "stream":
            if any(g != CHUNKS for g in got):
                raise SystemExit(f"{name}: a stream gave {min(got)} chunks, not {CHUNKS}")  # type: ignore[type-var]
            return count * CHUNKS
        return count

    run = gathered if contender.batch is None else (lambda count: contender.batch(op, count))  # type: ignore[misc]
    if warmup:
        await run(warmup)
    cpu, server_cpu = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server_pid)
    start = time.perf_counter()
    units = await run(n)
    seconds = time.perf_counter() - start
    used, server_used = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server_pid)
    await contender.close()
    return {
        "units": units, "seconds": seconds, "maxrss_kib": used.ru_maxrss,
        "cpu_seconds": used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime,
        "server_cpu_seconds": server_used - server_cpu if server_pid else None,
    }


# ---------------------------------------------------------------- measures and rows (driver side)

#: Fresh-interpreter programs timed whole by the import rows.
SNIPPETS = {
    "import-llmplug": "import llmplug",
    "import-openai": "import openai",
    "new-llmplug": "import llmplug; llmplug.new('openai', api_key='sk-x', transport='httpx')",
    "new-openai": "import openai; openai.OpenAI(api_key='sk-x')",
}


class Measure(NamedTuple):
    """One thing measured: ``kind`` (chat, stream, rss, import, instr-chat,
    instr-stream) of ``name`` (a contender or a snippet)."""

    kind: str
    name: str

    @property
    def needs_openai(self) -> bool:
        return self.name in ("openai", "import-openai", "new-openai", "async-openai")

    @property
    def needs_aiohttp(self) -> bool:
        return "aiohttp" in self.name

    @property
    def needs_pydantic(self) -> bool:
        return self.name == "parse-pydantic"

    @property
    def unit(self) -> str:
        return UNITS[self.kind]


UNITS = {
    "chat": "req/s", "stream": "chunks/s", "rss": "MiB", "import": "ms",
    "instr-chat": "instr/req", "instr-stream": "instr/stream",
    "achat": "req/s", "astream": "chunks/s",  # async, CONCURRENCY at once
    "struct": "ms or /s",  # bench/bench_structured.py: schema ms/call, parse replies/s
}


class Row(NamedTuple):
    """A figure of the issue: ``num`` / ``den`` against ``goal`` (``at_least`` or at most)."""

    key: str
    figure: str
    num: Measure
    den: Measure
    goal: float | None  # None: measured, with no goal set
    at_least: bool = True


def _row(key: str, figure: str, kind: str, num: str, den: str, goal: float | None, at_least: bool = True) -> Row:
    """A row measuring ``kind`` of contender ``num`` over contender ``den``."""
    return Row(key, figure, Measure(kind, num), Measure(kind, den), goal, at_least)


ROWS = [
    _row("1", "chat req/s, llmplug(httpx) / raw httpx post+json.loads", "chat", "llmplug-httpx", "raw-httpx", 0.95),
    _row("2", "chat req/s, llmplug(httpx) / openai-python", "chat", "llmplug-httpx", "openai", 3),
    _row("3", "1k-chunk stream chunks/s, llmplug(httpx) / raw httpx iter_lines", "stream", "llmplug-httpx", "raw-httpx", 0.85),
    _row("4", "stream chunks/s, llmplug(httpx) / openai-python", "stream", "llmplug-httpx", "openai", 6),
    _row("5", "python -c 'import llmplug' / 'import openai' (wall)", "import", "import-llmplug", "import-openai", 0.12, at_least=False),
    _row("6", "import + new client (httpx built): llmplug / openai (wall)", "import", "new-llmplug", "new-openai", 0.2, at_least=False),
    _row("7", "chat req/s, llmplug(urllib) / raw urlopen+json.loads", "chat", "llmplug-urllib", "raw-urlopen", 1.5),
    _row("8", "chat req/s, llmplug(urllib) / llmplug(httpx)", "chat", "llmplug-urllib", "llmplug-httpx", 2),
    _row("9", "peak RSS after one chat, llmplug(httpx) / raw httpx", "rss", "llmplug-httpx", "raw-httpx", 1.1, at_least=False),
    _row("10", "async 1k chats at 64, req/s, llmplug(httpx) / AsyncOpenAI", "achat", "async-llmplug-httpx", "async-openai", 3),
    _row("10a", "async 1k chats at 64, req/s, llmplug(aiohttp) / AsyncOpenAI", "achat", "async-llmplug-aiohttp", "async-openai", 3),
    _row("11", "async 1k chats at 64, req/s, llmplug(httpx) / raw httpx async", "achat", "async-llmplug-httpx", "async-raw-httpx", 0.9),
    _row("11a", "async 1k chats at 64, req/s, llmplug(aiohttp) / raw httpx async", "achat", "async-llmplug-aiohttp", "async-raw-httpx", 0.9),
    _row("11m", "async 1k chats, client.map(concurrency=64)(httpx) / raw httpx", "achat", "async-llmplug-httpx-map", "async-raw-httpx", 0.9),
    _row("12", "64 async 1k-chunk streams, chunks/s, llmplug(httpx) / AsyncOpenAI", "astream", "async-llmplug-httpx", "async-openai", 5),
    _row("13", "strict schema of a 50-field nested attrs class, cached: ms/call", "struct", "schema-cached", "one-ms", 1,
         at_least=False),
    _row("14", "100 KB typed reply parsed/s: llmplug (attrs, cattrs) / pydantic", "struct", "parse-llmplug", "parse-pydantic",
         None),
]
#: ``--instructions`` rows: rows 1, 3 and 7 counted in client instructions, as
#: raw / llmplug (fewer instructions is better) so each goal reads as its row's.
INSTRUCTION_ROWS = [
    Row(f"{row.key}i", f"{row.num.kind} instructions (client only), {row.den.name} / {row.num.name}",
        Measure(f"instr-{row.den.kind}", row.den.name), Measure(f"instr-{row.num.kind}", row.num.name), row.goal)
    for row in ROWS if row.key in ("1", "3", "7")
]


class Settings(NamedTuple):
    """How much work each sample does."""

    reps: int
    import_reps: int
    requests: int
    streams: int
    warmup: int
    instr_requests: int
    instr_streams: int
    async_requests: int  # chat requests per async sample, CONCURRENCY at once
    async_streams: int  # streams per async sample, CONCURRENCY at once


FULL = Settings(reps=7, import_reps=21, requests=1000, streams=15, warmup=50, instr_requests=100, instr_streams=3,
                async_requests=1000, async_streams=CONCURRENCY)
QUICK = Settings(reps=3, import_reps=7, requests=300, streams=4, warmup=20, instr_requests=30, instr_streams=1,
                 async_requests=300, async_streams=CONCURRENCY)

#: The checkout whose llmplug is measured: first on every child's PYTHONPATH.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALGRIND = "valgrind"


class Runner:
    """Spawns the pinned child processes and takes one sample of a measure."""

    def __init__(self, settings: Settings, server_cpus: set[int] | None, client_cpus: set[int] | None) -> None:
        self.settings = settings
        self.server_cpus, self.client_cpus = server_cpus, client_cpus
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
        self.env["NO_PROXY"] = self.env["no_proxy"] = "127.0.0.1,localhost"
        self.url = ""
        self.server_pid = 0
        #: Per async sample: the share of one CPU the client and the server used.
        self.cpu_shares: dict[Measure, list[tuple[float, float | None]]] = {}

    def spawn(self, argv: Sequence[str], cpus: set[int] | None, **kwargs: Any) -> Any:
        import subprocess

        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        return subprocess.Popen(argv, env=kwargs.pop("env", self.env), preexec_fn=pin, text=True, **kwargs)

    def run(self, argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[str, str]:
        import subprocess

        proc = self.spawn(argv, self.client_cpus, env=env or self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"{' '.join(argv[:8])} ... failed ({proc.returncode}):\n{err[-3000:]}")
        return out, err

    def start_server(self) -> Any:
        import subprocess

        server = self.spawn([sys.executable, __file__, "--serve"], self.server_cpus, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.url = server.stdout.readline().strip()
        if not self.url.startswith("http://"):
            server.kill()
            raise RuntimeError("the fake server did not start")
        self.server_pid = server.pid
        return server

    def worker_argv(self, name: str, op: str, n: int, warmup: int) -> list[str]:
        argv = [sys.executable, __file__, "--worker", name, "--op", op, "--url", self.url, "--n", str(n), "--warmup", str(warmup)]
        return [*argv, "--server-pid", str(self.server_pid)] if name in ASYNC_CONTENDERS else argv

    def sample(self, m: Measure) -> float:
        """One sample of ``m`` in its unit."""
        s = self.settings
        if m.kind == "import":
            start = time.perf_counter()
            self.run([sys.executable, "-c", SNIPPETS[m.name]])
            return (time.perf_counter() - start) * 1e3
        if m.kind == "struct":
            if m.name == "one-ms":
                return 1.0
            out, _ = self.run([sys.executable, os.path.join(ROOT, "bench", "bench_structured.py"), "--measure", m.name])
            return float(out)
        if m.kind == "rss":
            return self.work(m.name, "chat", 0, 1)["maxrss_kib"] / 1024
        if m.kind in ("chat", "stream"):
            n = s.requests if m.kind == "chat" else s.streams
            result = self.work(m.name, m.kind, n, s.warmup if m.kind == "chat" else 2)
            return result["units"] / result["seconds"]
        if m.kind in ("achat", "astream"):
            op = m.kind.removeprefix("a")
            n = s.async_requests if op == "chat" else s.async_streams
            result = self.work(m.name, op, n, CONCURRENCY)  # warm-up: one wave of CONCURRENCY at once
            server = result["server_cpu_seconds"]
            self.cpu_shares.setdefault(m, []).append(
                (result["cpu_seconds"] / result["seconds"], None if server is None else server / result["seconds"])
            )
            return result["units"] / result["seconds"]
        op = m.kind.removeprefix("instr-")
        n = s.instr_requests if op == "chat" else s.instr_streams
        warmup = 3 if op == "chat" else 1
        return (self.instructions(m.name, op, n, warmup) - self.instructions(m.name, op, 0, warmup)) / n

    def work(self, name: str, op: str, n: int, warmup: int) -> dict[str, Any]:
        out, _ = self.run(self.worker_argv(name, op, n, warmup))
        return json.loads(out)

    def instructions(self, name: str, op: str, n: int, warmup: int) -> int:
        """Instructions the whole worker process runs, counted by callgrind."""
        argv = [VALGRIND, "--tool=callgrind", "--callgrind-out-file=/dev/null", *self.worker_argv(name, op, n, warmup)]
        _, err = self.run(argv, env={**self.env, "PYTHONHASHSEED": "0"})
        for line in err.splitlines():
            if "Collected :" in line:
                return int(line.rsplit(":", 1)[1])
        raise RuntimeError(f"no 'Collected' total in valgrind's output:\n{err[-2000:]}")

    def rounds(self, measures: Sequence[Measure], reps: int, progress: Callable[[str], None]) -> dict[Measure, list[float]]:
        """``reps`` samples of each measure, interleaved, the order reversed every other round."""
        samples: dict[Measure, list[float]] = {m: [] for m in measures}
        for rep in range(reps):
            for m in measures if rep % 2 == 0 else measures[::-1]:
                progress(f"round {rep + 1}/{reps}: {m.kind} {m.name}")
                samples[m].append(self.sample(m))
        return samples


# ---------------------------------------------------------------- reporting


def median(values: Sequence[float]) -> float:
    import statistics

    return statistics.median(values)


def fmt(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:,.2f}M"
    if value >= 1e4:
        return f"{value / 1e3:,.1f}k"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if value < 10 else f"{value:,.1f}"


def row_result(
    row: Row, samples: dict[Measure, list[float]], skipped: str | None,
    cpu_shares: dict[Measure, list[tuple[float, float | None]]] | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "row": row.key, "figure": row.figure, "goal": row.goal, "op": ">=" if row.at_least else "<=",
        "unit": row.num.unit,
    }
    if skipped:
        return {**result, "skipped": skipped}
    num, den = median(samples[row.num]), median(samples[row.den])
    value = num / den

    def side(m: Measure, med: float) -> dict[str, Any]:
        out: dict[str, Any] = {"name": m.name, "median": med, "samples": samples[m]}
        shares = (cpu_shares or {}).get(m)
        if shares:  # async rows: CPU used in the timed calls, as a share of one CPU (medians)
            out["client_cpu"] = round(median([c for c, _ in shares]), 3)
            servers = [s for _, s in shares if s is not None]
            out["server_cpu"] = round(median(servers), 3) if servers else None
        return out

    return {
        **result,
        "value": round(value, 4),
        "met": None if row.goal is None else value >= row.goal if row.at_least else value <= row.goal,
        "round_ratios": [round(n / d, 4) for n, d in zip(samples[row.num], samples[row.den])],
        "numerator": side(row.num, num),
        "denominator": side(row.den, den),
    }


def print_table(results: Iterable[dict[str, Any]]) -> None:
    print(f"{'row':<4} {'figure':<64} {'value':>6}  {'goal':<7} {'met':<4} {'rounds':<11} medians (numerator / denominator)")
    for r in results:
        goal = "-" if r["goal"] is None else f"{'≥' if r['op'] == '>=' else '≤'} {r['goal']:g}"
        if "skipped" in r:
            print(f"{r['row']:<4} {r['figure']:<64} {'-':>6}  {goal:<7} {'-':<4} {'-':<11} skipped: {r['skipped']}")
            continue
        ratios = r["round_ratios"]
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else ""
        detail = f"{fmt(r['numerator']['median'])} / {fmt(r['denominator']['median'])} {r['unit']}"
        if r["numerator"].get("server_cpu") is not None and r["denominator"].get("server_cpu") is not None:
            detail += (f"; CPU client {r['numerator']['client_cpu']:.0%} / {r['denominator']['client_cpu']:.0%},"
                       f" server {r['numerator']['server_cpu']:.0%} / {r['denominator']['server_cpu']:.0%}")
        print(f"{r['row']:<4} {r['figure']:<64} {r['value']:>6.2f}  {goal:<7} {'-' if r['met'] is None else 'yes' if r['met'] else 'no':<4} {spread:<11} {detail}")


def machine(runner: Runner, cpus: str) -> dict[str, Any]:
    import platform
    import subprocess

    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?") \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    versions = runner.run([sys.executable, "-c", "import importlib.metadata as m\nfor d in ('httpx', 'openai'):\n"
                           "    try: print(d, m.version(d))\n    except m.PackageNotFoundError: print(d, '-')"])[0]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cpu": model, "cpus": cpus, "python": platform.python_version(),
        "commit": commit or "?", **dict(line.split(" ", 1) for line in versions.splitlines()),
    }


# ---------------------------------------------------------------- driver


def choose_rows(only: str | None, instructions: bool) -> list[Row]:
    """The rows to run: ``--only`` keys (``1`` also picks ``1i`` under ``--instructions``)."""
    rows = ROWS + INSTRUCTION_ROWS if instructions else ROWS
    if only is None:
        return rows
    wanted = {key.strip() for key in only.split(",") if key.strip()}
    unknown = wanted - {row.key for row in ROWS + INSTRUCTION_ROWS}
    if unknown:
        raise SystemExit(f"--only: no row {', '.join(sorted(unknown))} (rows: 1-14, 10a 11a 11m, and 1i 3i 7i)")
    # A number picks its lettered rows too: 11 is 11, 11a and 11m (and 1 is 1i under --instructions).
    return [row for row in ROWS + INSTRUCTION_ROWS if row.key in wanted or row in rows and row.key.rstrip("aim") in wanted]


def pin_plan() -> tuple[set[int] | None, set[int] | None, str]:
    """CPUs for the server and the clients: one each, or no pinning on one CPU."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None, "not pinned (no sched_setaffinity)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None, "not pinned (one CPU)"
    return {cpus[0]}, {cpus[1]}, f"server on CPU {cpus[0]}, clients on CPU {cpus[1]}"


def main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import shutil
    import subprocess

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, help="rounds of the process rows (default 7, --quick 3)")
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds: a smoke run")
    parser.add_argument("--only", metavar="ROWS", help="comma-separated row numbers, e.g. 1,3,7")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--instructions", action="store_true", help="add rows 1i, 3i, 7i: instructions under valgrind")
    parser.add_argument("--requests", type=int, help="timed chat requests per sample (sync rows)")
    parser.add_argument("--streams", type=int, help="timed 1000-chunk streams per sample (sync rows)")
    internal = parser.add_argument_group("internal (one child process)")
    internal.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    internal.add_argument("--worker", choices=sorted([*CONTENDERS, *ASYNC_CONTENDERS]), help=argparse.SUPPRESS)
    internal.add_argument("--op", choices=sorted(PREFIX), default="chat", help=argparse.SUPPRESS)
    internal.add_argument("--url", help=argparse.SUPPRESS)
    internal.add_argument("--n", type=int, default=100, help=argparse.SUPPRESS)
    internal.add_argument("--warmup", type=int, default=10, help=argparse.SUPPRESS)
    internal.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    if args.worker:
        if args.worker in ASYNC_CONTENDERS:
            import asyncio

            print(json.dumps(asyncio.run(async_work(args.worker, args.op, args.url, args.n, args.warmup, args.server_pid))))
        else:
            print(json.dumps(worker(args.worker, args.op, args.url, args.n, args.warmup)))
        return

    settings = (QUICK if args.quick else FULL)._replace(
        **{k: v for k, v in (("reps", args.reps), ("requests", args.requests), ("streams", args.streams)) if v}
    )
    rows = choose_rows(args.only, args.instructions)
    server_cpus, client_cpus, cpus = pin_plan()
    if server_cpus:
        os.sched_setaffinity(0, server_cpus)  # this driver mostly waits: keep it off the clients' CPU
    runner = Runner(settings, server_cpus, client_cpus)
    has_openai = subprocess.run([sys.executable, "-c", "import openai"], env=runner.env, capture_output=True).returncode == 0
    has_aiohttp = subprocess.run([sys.executable, "-c", "import aiohttp"], env=runner.env, capture_output=True).returncode == 0
    has_pydantic = subprocess.run([sys.executable, "-c", "import pydantic"], env=runner.env, capture_output=True).returncode == 0
    has_valgrind = shutil.which(VALGRIND) is not None
    skips = {
        row.key: reason for row in rows for reason in [
            "pip install -e '.[bench]'" if not has_openai and (row.num.needs_openai or row.den.needs_openai) else
            "aiohttp not installed (pip install -e '.[bench]')" if not has_aiohttp and (row.num.needs_aiohttp or row.den.needs_aiohttp) else
            "pydantic not installed (pip install -e '.[bench]')" if not has_pydantic and row.den.needs_pydantic else
            "valgrind not found (apt-get install valgrind)" if not has_valgrind and row.num.kind.startswith("instr") else None
        ] if reason
    }
    live = [row for row in rows if row.key not in skips]
    measures = list(dict.fromkeys(m for row in live for m in (row.num, row.den)))
    quiet = args.json or not sys.stderr.isatty()
    log = (lambda text: None) if quiet else (lambda text: print(f"\r\033[K{text}", end="", file=sys.stderr, flush=True))

    started = time.perf_counter()
    server = runner.start_server()
    try:
        info = machine(runner, cpus)
        if not has_openai:
            info["openai"] = "not importable"
        samples: dict[Measure, list[float]] = {}
        for snippet in {m.name for m in measures if m.kind == "import"}:  # compile the .pyc files first
            runner.run([sys.executable, "-c", SNIPPETS[snippet]])
        groups = (
            ([m for m in measures if m.kind in ("chat", "stream", "rss", "achat", "astream", "struct")], settings.reps),
            ([m for m in measures if m.kind == "import"], settings.import_reps),
            ([m for m in measures if m.kind.startswith("instr")], 1),  # counts barely vary
        )
        for group, reps in groups:
            samples.update(runner.rounds(group, reps, log))
    finally:
        server.stdin.close()
        server.wait(10)
    log("")
    results = [row_result(row, samples, skips.get(row.key), runner.cpu_shares) for row in rows]
    info["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps({"machine": info, "settings": settings._asdict(), "rows": results}, indent=2))
        return
    print(f"llmplug {info['commit']} · {info['date']} · {info['cpu']} · {cpus} · Python {info['python']} · "
          f"httpx {info['httpx']} · openai {info['openai']}")
    concurrent = (f"; async: {settings.async_requests} requests, {settings.async_streams} streams a sample, {CONCURRENCY} at once"
                  if any(m.kind.startswith("a") for m in measures) else "")
    print(f"medians of {settings.reps} rounds ({settings.requests} requests, {settings.streams} streams a sample{concurrent}), "
          f"imports {settings.import_reps} runs each; {info['seconds']} s\n")
    print_table(results)


if __name__ == "__main__":
    main()
