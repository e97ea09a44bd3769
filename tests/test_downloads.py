"""``file_content(id, destination)``: a file written to disk chunk by chunk,
never whole in memory, through every transport, sync and async."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import llmplug
from llmplug.testing import FakeAPI
from tests.conftest import ASYNC_TRANSPORTS, TEST_KEY, TRANSPORTS

MB = 1024 * 1024

#: Run in a fresh process, so its peak RSS is the client's alone: the rise of
#: the peak (``VmHWM``) over the download, after one small call warmed everything up.
CHILD = textwrap.dedent("""
    import asyncio, json, resource, sys
    import llmplug

    url, transport, file_id, small_id, path = sys.argv[1:6]

    def peak():
        # VmHWM: this process's peak RSS since exec (ru_maxrss would carry the forking parent's).
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    async def run_async(name):
        async with llmplug.new_async("openai", api_key="%s", base_url=url, transport=name) as client:
            await client.file_content(small_id, path)
            before = peak()
            result = await client.file_content(file_id, path)
            return before, peak(), str(result.body)

    def run_sync():
        with llmplug.new("openai", api_key="%s", base_url=url, transport=transport) as client:
            client.file_content(small_id, path)
            before = peak()
            result = client.file_content(file_id, path)
            return before, peak(), str(result.body)

    if transport.startswith("async-"):
        before, after, body = asyncio.run(run_async(transport[len("async-"):]))
    else:
        before, after, body = run_sync()
    print(json.dumps({"before": before, "after": after, "body": body}))
""" % (TEST_KEY, TEST_KEY))


@pytest.fixture(scope="module")
def big_file() -> tuple[FakeAPI, str, str, bytes]:
    """A fake API of its own holding a 50 MB file (and a small one)."""
    with FakeAPI() as api:
        client = llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport="urllib")
        line = b'{"custom_id": "x", "response": {"status_code": 200, "body": {"text": "' + b"a" * 200 + b'"}}}\n'
        data = line * (50 * MB // len(line) + 1)
        big = client.upload_file(data, "batch", filename="big.jsonl").body.id
        small = client.upload_file(b"{}\n", "batch", filename="small.jsonl").body.id
        client.close()
        yield api, big, small, data


@pytest.mark.parametrize("transport", TRANSPORTS + ASYNC_TRANSPORTS)
def test_fifty_megabytes_go_to_disk_with_bounded_memory(big_file, transport, tmp_path: Path) -> None:
    api, big, small, data = big_file
    path = tmp_path / "out.jsonl"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, api.base_url, transport, big, small, str(path)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["body"] == str(path)
    assert path.stat().st_size == len(data) >= 50 * MB
    with open(path, "rb") as f:
        assert f.read(len(data[:1000])) == data[:1000]
    rise = report["after"] - report["before"]
    assert rise < 20, f"peak RSS rose {rise:.1f} MB while downloading 50 MB"
    assert not path.with_name(path.name + ".part").exists()


def test_a_file_object_and_a_broken_download(client, api, tmp_path: Path) -> None:
    file_id = client.upload_file(b"line\n" * 1000, "batch", filename="in.jsonl").body.id
    sink = io.BytesIO()
    result = client.file_content(file_id, sink)
    assert result.body is sink and sink.getvalue() == b"line\n" * 1000
    assert client.file_content(file_id).body == b"line\n" * 1000  # without a destination: the bytes

    path = tmp_path / "missing.jsonl"
    with pytest.raises(llmplug.NotFoundError):
        client.file_content("file-nope", path)
    assert not path.exists() and not path.with_name(path.name + ".part").exists()

    api.queue("GET", f"/v1/files/{file_id}/content", body=b"x" * 100_000, chunk_size=1000, interval=0.001,
              headers={"content-length": "200000"})
    with pytest.raises(llmplug.APIError):
        client.file_content(file_id, path)  # the body ends short of its Content-Length
    assert not path.exists() and not path.with_name(path.name + ".part").exists()


def test_a_directory_is_no_destination(client, api, tmp_path: Path) -> None:
    file_id = client.upload_file(b"x", "batch", filename="in.jsonl").body.id
    with pytest.raises(llmplug.ConfigurationError, match="is a directory"):
        client.file_content(file_id, tmp_path)
