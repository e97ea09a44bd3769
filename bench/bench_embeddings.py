"""Decoding a 16 x 1536 embeddings response: the float JSON form against the
base64 form llmplug asks OpenAI for when the caller names no format.

Both bodies are made here from the same float32 vectors (the float form as
OpenAI prints it, the shortest repr of each float32), then decoded as a client
would: ``json.loads`` of the floats, against ``json.loads`` plus llmplug's
base64 decoding (``array('f')``). Rounds alternate; the best round counts.
Prints bytes and microseconds of each and the ratio float / base64.

    python bench/bench_embeddings.py [--rounds 7] [--repeat 50]
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import random
import struct
import time

from llmplug.providers.openai import _floats_from_base64

ROWS, DIMS = 16, 1536


def bodies() -> tuple[bytes, bytes, list[list[float]]]:
    rng = random.Random(7)
    vectors = [list(struct.unpack(f"<{DIMS}f", struct.pack(f"<{DIMS}f", *(rng.uniform(-0.1, 0.1) for _ in range(DIMS)))))
               for _ in range(ROWS)]
    floats = {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]}
    b64 = copy.deepcopy(floats)
    for item, vector in zip(b64["data"], vectors):
        item["embedding"] = base64.b64encode(struct.pack(f"<{DIMS}f", *vector)).decode("ascii")
    return json.dumps(floats).encode(), json.dumps(b64).encode(), vectors


def best(fn, repeat: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - start) / repeat)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    float_body, b64_body, vectors = bodies()

    def from_floats() -> list:
        return [item["embedding"] for item in json.loads(float_body)["data"]]

    def from_base64() -> list:
        data = json.loads(b64_body)
        _floats_from_base64(data)
        return [item["embedding"] for item in data["data"]]

    assert from_floats() == from_base64() == vectors  # the same floats either way
    times = {"float": [], "base64": []}
    for _ in range(args.rounds):  # interleaved, so noise hits both
        times["float"].append(best(from_floats, args.repeat, 1))
        times["base64"].append(best(from_base64, args.repeat, 1))
    t_float, t_b64 = min(times["float"]), min(times["base64"])
    print(f"{'form':8} {'bytes':>10} {'decode µs':>10}")
    print(f"{'float':8} {len(float_body):>10,} {t_float * 1e6:>10,.0f}")
    print(f"{'base64':8} {len(b64_body):>10,} {t_b64 * 1e6:>10,.0f}")
    print(f"float / base64: {len(float_body) / len(b64_body):.2f}x the bytes, {t_float / t_b64:.2f}x the decode time")


if __name__ == "__main__":
    main()
