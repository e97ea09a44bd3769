"""Throughput of llmplug against each HTTP library used raw, in one process.

Against the bundled fake API on 127.0.0.1 it measures, per transport:
- requests/second of a chat completion: ``client.create_chat_completion`` vs
  the library's own POST + ``json.loads``;
- chunks/second of a 1,000-chunk stream: iterating an llmplug ``Stream`` (SSE
  decoding, models, assembly) vs the library's raw line iteration + ``json.loads``.
Rounds alternate between the two so machine noise hits both; the best round
counts. Prints each figure and the ratio llmplug / raw (target: >= 0.9).

    python bench/bench_transports.py [--requests 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import llmplug
from llmplug.testing import FakeAPI

MESSAGES = [{"role": "user", "content": "Say hello"}]
BODY = json.dumps({"model": "gpt-4.1", "messages": MESSAGES}).encode()
STREAM_BODY = json.dumps({"model": "gpt-4.1", "messages": MESSAGES, "stream": True}).encode()
# The headers llmplug sends, so the server does the same work for both sides.
HEADERS = {
    "Authorization": "Bearer sk-bench",
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "llmplug/0.1",
}
CHUNKS = 1000


def completion() -> dict:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! " * 20}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 40, "total_tokens": 43},
    }


def chunk_events() -> list:
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4.1"}
    events = [{**head, "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}]} for i in range(CHUNKS - 1)]
    events.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return [*events, "data: [DONE]\n\n"]


# ---------------------------------------------------------------- raw baselines


def raw_httpx(base: str) -> tuple[Callable[[], None], Callable[[], int], Callable[[], None]]:
    import httpx

    client = httpx.Client()
    url = base + "/chat/completions"

    def call() -> None:
        json.loads(client.post(url, content=BODY, headers=HEADERS).content)

    def stream() -> int:
        n = 0
        with client.stream("POST", url, content=STREAM_BODY, headers={**HEADERS, "Accept": "text/event-stream"}) as resp:
            for line in resp.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    n += 1
        return n

    return call, stream, client.close


def raw_requests(base: str) -> tuple[Callable[[], None], Callable[[], int], Callable[[], None]]:
    import requests

    session = requests.Session()
    url = base + "/chat/completions"

    def call() -> None:
        json.loads(session.post(url, data=BODY, headers=HEADERS).content)

    def stream() -> int:
        n = 0
        with session.post(url, data=STREAM_BODY, headers={**HEADERS, "Accept": "text/event-stream"}, stream=True) as resp:
            for line in resp.iter_lines():
                if line.startswith(b"data: ") and line != b"data: [DONE]":
                    json.loads(line[6:])
                    n += 1
        return n

    return call, stream, session.close


def raw_urllib(base: str) -> tuple[Callable[[], None], Callable[[], int], Callable[[], None]]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)  # the stdlib's keep-alive connection
    path = parts.path + "/chat/completions"

    def call() -> None:
        conn.request("POST", path, body=BODY, headers=HEADERS)
        json.loads(conn.getresponse().read())

    def stream() -> int:
        n = 0
        conn.request("POST", path, body=STREAM_BODY, headers={**HEADERS, "Accept": "text/event-stream"})
        resp = conn.getresponse()
        for line in resp:
            if line.startswith(b"data: ") and not line.startswith(b"data: [DONE]"):
                json.loads(line[6:])
                n += 1
        return n

    return call, stream, conn.close


RAW = {"httpx": raw_httpx, "requests": raw_requests, "urllib": raw_urllib}


def ours(base: str, transport: str) -> tuple[Callable[[], None], Callable[[], int], Callable[[], None]]:
    client = llmplug.new("openai", api_key="sk-bench", base_url=base, transport=transport, max_retries=0)

    def call() -> None:
        client.create_chat_completion(MESSAGES)

    def stream() -> int:
        n = 0
        with client.create_chat_completion(MESSAGES, stream=True) as events:
            for _ in events:
                n += 1
        return n

    return call, stream, client.close


# ---------------------------------------------------------------- measuring


def rate(fn: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - start)


def stream_rate(fn: Callable[[], int], count: int) -> float:
    start = time.perf_counter()
    chunks = sum(fn() for _ in range(count))
    return chunks / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="calls per round")
    parser.add_argument("--streams", type=int, default=5, help="1,000-chunk streams per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--transports", default="httpx,requests,urllib")
    args = parser.parse_args()

    with FakeAPI() as api:
        api.queue("POST", "/plain/v1/chat/completions", json=completion(), times=None)
        api.queue("POST", "/stream/v1/chat/completions", events=chunk_events(), times=None)
        print(f"{'transport':<10} {'what':<22} {'raw':>12} {'llmplug':>12} {'ratio':>7}")
        for name in args.transports.split(","):
            for what, path in (("requests/s", "/plain/v1"), ("chunks/s (1k stream)", "/stream/v1")):
                base = api.url + path
                raw_call, raw_stream, raw_close = RAW[name](base)
                our_call, our_stream, our_close = ours(base, name)
                if what == "requests/s":
                    pair = (lambda: rate(raw_call, args.requests), lambda: rate(our_call, args.requests))
                else:
                    assert raw_stream() == CHUNKS and our_stream() == CHUNKS
                    pair = (lambda: stream_rate(raw_stream, args.streams), lambda: stream_rate(our_stream, args.streams))
                pair[0](), pair[1]()  # warm up
                best_raw = best_ours = 0.0
                for _ in range(args.rounds):
                    best_raw = max(best_raw, pair[0]())
                    best_ours = max(best_ours, pair[1]())
                raw_close(), our_close()
                print(f"{name:<10} {what:<22} {best_raw:>12,.0f} {best_ours:>12,.0f} {best_ours / best_raw:>7.2f}")


if __name__ == "__main__":
    main()
