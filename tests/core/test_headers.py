"""The Headers multi-dict: case-insensitive, repeated names kept, joined on lookup."""

from __future__ import annotations

from llmplug.core.http import Headers


def test_repeated_names_keep_each_value_and_join_on_lookup() -> None:
    headers = Headers([("Set-Cookie", "a=1"), ("X-Id", "7"), ("set-cookie", "b=2")])
    assert headers["SET-COOKIE"] == "a=1, b=2" and headers["x-id"] == "7"
    assert headers.get_list("set-cookie") == ["a=1", "b=2"] and headers.get_list("nope") == []
    assert headers.multi_items() == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Id", "7")]
    assert len(headers) == 2 and list(headers) == ["Set-Cookie", "X-Id"]


def test_setting_replaces_every_value_and_add_appends() -> None:
    headers = Headers([("Link", "<a>"), ("Link", "<b>")])
    copy = headers.copy()
    headers["link"] = "<c>"
    assert headers.get_list("Link") == ["<c>"] and headers["LINK"] == "<c>"
    assert copy.get_list("link") == ["<a>", "<b>"]  # the copy is independent
    headers.add("Link", "<d>")
    assert headers.get_list("link") == ["<c>", "<d>"]
    del headers["link"]
    assert "link" not in headers and headers.get_list("link") == []


def test_a_mapping_and_a_headers_object_build_the_same() -> None:
    original = Headers([("A", "1"), ("a", "2")])
    assert Headers(original).get_list("a") == ["1", "2"]
    assert Headers({"A": "1"}) == {"a": "1"}
    assert "Set-Cookie" in repr(Headers([("Set-Cookie", "secret")])) and "secret" not in repr(Headers([("Set-Cookie", "secret")]))
