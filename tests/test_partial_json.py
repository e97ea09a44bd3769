"""Tests for the incremental partial-JSON parser (snapshots of a streamed JSON reply)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from llmplug.core.partial_json import NOTHING, PartialJSON, parse_partial
from tests.json_checks import is_prefix, same


def strict_loads(text: str) -> Any:
    """``json.loads`` without its extensions (NaN, Infinity, -Infinity)."""

    def constant(name: str) -> Any:
        raise ValueError(name)

    return json.loads(text, parse_constant=constant)


def run(pieces: list[str]) -> tuple[PartialJSON, list[Any]]:
    """Feed ``pieces``, checking after each that ``feed`` said whether the snapshot changed
    and that it grew as a prefix; then finish. The parser and every snapshot."""
    parser = PartialJSON()
    previous = NOTHING
    snapshots = []
    for piece in pieces + [None]:
        changed = parser.finish() if piece is None else parser.feed(piece)
        snapshot = parser.snapshot()
        assert changed is (not same(previous, snapshot)), (piece, previous, snapshot)
        assert is_prefix(previous, snapshot), (piece, previous, snapshot)
        snapshots.append(snapshot)
        previous = snapshot
    return parser, snapshots


def check(pieces: list[str], expected: Any) -> None:
    parser, snapshots = run(pieces)
    assert parser.error is None
    assert parser.done
    assert same(snapshots[-1], expected)
    for snapshot in snapshots:
        assert is_prefix(snapshot, expected), (snapshot, expected)


def sized(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def random_split(text: str, rng: random.Random, count: int | None = None) -> list[str]:
    """``text`` cut at random places (into ``count`` pieces when given)."""
    if count is None:
        count = rng.randint(1, max(1, len(text)))
    cuts = sorted(rng.sample(range(1, len(text)), count - 1)) if count > 1 else []
    return [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]


RECORD = {
    "name": "Ada Lovelace",
    "age": 36,
    "langs": ["en", "fr"],
    "admin": False,
    "boss": None,
    "ok": True,
    "score": -12.5e-3,
    "address": {"city": "London", "lines": [], "geo": {"lat": 51.5, "lon": -0.12}},
}

DOCUMENTS = {
    "object": json.dumps(RECORD),
    "pretty": json.dumps(RECORD, indent=2),
    "compact": json.dumps(RECORD, separators=(",", ":")),
    "whitespace": ' \n\t {"a" :\r\n 1 ,"b":[ 1 , 2 ,true ] ,"c" : { } } \n',
    "nested": '{"a": {"b": {"c": [[], {}, [[1, [2, [3]]]], {"d": {"e": ""}}]}}, "z": [{}], "y": [[[]]]}',
    "escapes": r'["q \" bs \\ sl \/ \b\f\n\r\t", "\u00e9\u4E2D\uD83D\uDE00", "\"\"", "\\\\u0041", "\u0000\u001f"]',
    "surrogates": r'["\ud83d\ude00x", "\ud83d\u0041", "\udc00x", "\ud83d\ud83d\ude00", "\ud83d", "a\ud83d\nb"]',
    "raw_unicode": '{"clé": "naïve café 中文 😀", "😀": "𝄞", "ünï": ["é", "\u2028"]}',
    "keys": r'{"": 1, "a\"b": 2, "\u00e9": 3, "x y": {"": ""}, "0": [0]}',
    "numbers": "[0, -0, 1, -1, 12.5, -0.25, 1e3, 1E-3, 2.5e+10, -7.0E2, 0.1, 10, 123456789012345678901234567890]",
    "literals": '[true, false, null, [true], {"t": true, "f": false, "n": null}, [null]]',
    "empty": '[{}, [], "", {"a": {}, "b": [], "c": ""}, [[]], [{}]]',
    "deep_lists": "[" * 40 + '{"x": [1, "y"]}' + "]" * 40,
    "deep_objects": '{"a": ' * 40 + "[]" + "}" * 40,
    "top_string": r'"top \"level\" \u00e9 string"',
    "top_number": "-12.5e-3",
    "top_integer": "1234",
    "top_zero": "0",
    "top_true": "true",
    "top_null": "null",
    "top_array": "[1, 2, 3]",
    "top_empty_object": "{}",
    "top_empty_array": "[]",
    "top_empty_string": '""',
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_piece_size(name: str) -> None:
    text = DOCUMENTS[name]
    expected = json.loads(text)
    assert same(parse_partial(text), expected)
    for size in range(1, len(text) + 1):
        check(sized(text, size), expected)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_cut(name: str) -> None:
    text = DOCUMENTS[name]
    expected = json.loads(text)
    for cut in range(1, len(text)):
        check([text[:cut], text[cut:]], expected)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_random_splits(name: str) -> None:
    text = DOCUMENTS[name]
    expected = json.loads(text)
    rng = random.Random(name)
    for _ in range(100):
        check(random_split(text, rng), expected)


def test_is_prefix_rejects_what_is_not_a_prefix() -> None:
    rejected = [
        ({"a": 1}, {"a": 12}),
        ({"a": "x", "b": 1}, {"a": "xy", "b": 1}),
        ([1], [2]),
        ([1, 2], [1]),
        (["ab", "c"], ["abc", "c"]),
        ([[1], 2], [[1, 3], 2]),
        ({"a": {"x": 1}, "b": 2}, {"a": {"x": 1, "y": 2}, "b": 2}),
        ({"b": 1}, {"a": 1, "b": 1}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"a": 1}, {}),
        ("ab", "ba"),
        ("abc", "ab"),
        (1, 1.0),
        (True, 1),
        (None, False),
        ({}, []),
        ({"a": []}, {"a": {}}),
        (["a"], ["ba"]),
        (12, 1),
    ]
    for a, b in rejected:
        assert not is_prefix(a, b), (a, b)
    accepted = [
        (NOTHING, {"a": 1}),
        (NOTHING, NOTHING),
        ({}, {"a": 1}),
        ({"a": "x"}, {"a": "xyz", "b": 1}),
        ({"a": 1}, {"a": 1, "b": 2}),
        ([], [1]),
        ([[1]], [[1, 2]]),
        ([[1]], [[1, 2], 3]),
        ([1, [2]], [1, [2, 3], 4]),
        ({"a": {"b": [1]}}, {"a": {"b": [1, 2]}, "c": 3}),
        ("", "abc"),
        (1, 1),
        (None, None),
    ]
    for a, b in accepted:
        assert is_prefix(a, b), (a, b)


def test_keys_appear_with_their_values() -> None:
    parser = PartialJSON()
    steps = [
        ("{", True, {}),
        ('"ab', False, {}),
        ('c"', False, {}),
        (" : ", False, {}),
        ('"', True, {"abc": ""}),
        ("x", True, {"abc": "x"}),
        ("\\", False, {"abc": "x"}),
        ("u00", False, {"abc": "x"}),
        ("e9", True, {"abc": "xé"}),
        ("\\ud83d", False, {"abc": "xé"}),
        ("\\u", False, {"abc": "xé"}),
        ("de00", True, {"abc": "xé😀"}),
        ('", "k', False, {"abc": "xé😀"}),
        ('": {', True, {"abc": "xé😀", "k": {}}),
        ('"l": [', True, {"abc": "xé😀", "k": {"l": []}}),
        ("]}, ", False, {"abc": "xé😀", "k": {"l": []}}),
        ('"m": ""', True, {"abc": "xé😀", "k": {"l": []}, "m": ""}),
        ("}", False, {"abc": "xé😀", "k": {"l": []}, "m": ""}),
    ]
    for piece, changed, snapshot in steps:
        assert parser.done is False
        assert parser.feed(piece) is changed, piece
        assert same(parser.snapshot(), snapshot), piece
    assert parser.done
    assert parser.finish() is False


def test_numbers_and_literals_appear_only_when_complete() -> None:
    parser = PartialJSON()
    assert parser.feed('{"n": 1') is True  # the "{"
    assert parser.snapshot() == {}
    assert parser.feed("2") is False
    assert parser.snapshot() == {}
    assert parser.feed("}") is True
    assert same(parser.snapshot(), {"n": 12})

    parser = PartialJSON()
    parser.feed('{"n": 1')
    assert parser.feed("2") is False
    assert parser.finish() is True  # the text ended: the number is complete
    assert same(parser.snapshot(), {"n": 12})
    assert parser.done is False  # but the object is not

    parser = PartialJSON()
    for piece in ["[-", "1.", "5e", "3"]:
        parser.feed(piece)
        assert parser.snapshot() == []
    assert parser.feed(" ") is True
    assert same(parser.snapshot(), [-1500.0])
    for piece in [",tr", "ue", "\n"]:
        parser.feed(piece)
    assert same(parser.snapshot(), [-1500.0, True])

    parser = PartialJSON()
    assert parser.feed("1") is False
    assert parser.feed("2") is False
    assert parser.snapshot() is NOTHING and not parser.done
    assert parser.finish() is True
    assert same(parser.snapshot(), 12) and parser.done

    parser = PartialJSON()
    assert parser.feed("12 ") is True
    assert parser.done
    assert parser.finish() is False


def test_top_level_string_grows_and_is_done_at_its_quote() -> None:
    parser = PartialJSON()
    assert parser.feed(" ") is False
    assert parser.snapshot() is NOTHING
    assert parser.feed('"') is True
    assert parser.snapshot() == ""
    assert parser.feed("ab") is True
    assert parser.snapshot() == "ab"
    assert parser.done is False
    assert parser.feed('"') is False
    assert parser.done
    assert parser.feed("\n") is False


def test_snapshots_are_independent_copies() -> None:
    parser = PartialJSON()
    parser.feed('{"a": [1, {"b": [2]}], "c": {"d": "e')
    first = parser.snapshot()
    assert same(first, {"a": [1, {"b": [2]}], "c": {"d": "e"}})
    first["a"][1]["b"].append(99)
    first["c"]["d"] = "changed"
    first["new"] = 1
    second = parser.snapshot()
    assert same(second, {"a": [1, {"b": [2]}], "c": {"d": "e"}})
    parser.feed('f"}, "g": [3')
    third = parser.snapshot()
    second["a"].clear()
    second["c"].clear()
    parser.feed("]}")
    assert same(parser.snapshot(), {"a": [1, {"b": [2]}], "c": {"d": "ef"}, "g": [3]})
    assert same(third, {"a": [1, {"b": [2]}], "c": {"d": "ef"}, "g": []})
    final = parser.snapshot()
    assert final is not parser.snapshot() and final["a"] is not parser.snapshot()["a"]


def test_deep_nesting_is_copied_and_parsed_without_recursion() -> None:
    depth = 3000  # deeper than the recursion limit and marshal's nesting limit
    text = "[" * depth + '{"x": "y"}' + "]" * depth
    parser = PartialJSON()
    for piece in sized(text, 7):
        parser.feed(piece)
    parser.finish()
    assert parser.error is None and parser.done
    snapshot = parser.snapshot()
    again = parser.snapshot()
    node, other = snapshot, again
    for _ in range(depth):
        assert type(node) is list and len(node) == 1 and node is not other
        node, other = node[0], other[0]
    assert node == {"x": "y"} and node is not other
    node["x"] = "z"
    assert other == {"x": "y"}


def test_code_fences_are_skipped() -> None:
    cases = {
        '```json\n{"a": [1, 2]}\n```': {"a": [1, 2]},
        "```\n[1]\n```\n": [1],
        "```JSON \r\n{}\r\n```\r\n": {},
        '  \n```json\n"s"```': "s",
        "```json\n42\n```": 42,
        "```json\n42```": 42,
        "```json\ntrue ```  \n": True,
        '```json\n{"a": 1}': {"a": 1},
        '{"a": 1}\n```': {"a": 1},
    }
    for text, expected in cases.items():
        for size in range(1, len(text) + 1):
            check(sized(text, size), expected)


ERRORS = {
    '{"a" 1}': "unexpected '1' at character 5",
    '{"a": 1} x': "unexpected 'x' at character 9",
    '{"a": 1}}': "unexpected '}' at character 8",
    "[1] [2]": "unexpected '[' at character 4",
    '"a" "b"': "unexpected '\"' at character 4",
    "1 2": "unexpected '2' at character 2",
    "[1, 2,]": "unexpected ']' at character 6",
    '{"a": 1,}': "unexpected '}' at character 8",
    "[01]": "unexpected '1' at character 2",
    "[1.]": "unexpected ']' at character 3",
    "[1e]": "unexpected ']' at character 3",
    "[-]": "unexpected ']' at character 2",
    "[1-2]": "unexpected '-' at character 2",
    "[+1]": "unexpected '+' at character 1",
    "[.5]": "unexpected '.' at character 1",
    "[tru]": "unexpected ']' at character 4",
    "[truex]": "unexpected 'x' at character 5",
    "[True]": "unexpected 'T' at character 1",
    '{"a": nul}': "unexpected '}' at character 9",
    "NaN": "unexpected 'N' at character 0",
    "[Infinity]": "unexpected 'I' at character 1",
    '["\\x"]': "unexpected 'x' at character 3",
    '["\\u12G4"]': "unexpected 'G' at character 6",
    '["a\nb"]': "unexpected '\\n' at character 3",
    '["a\tb"]': "unexpected '\\t' at character 3",
    "{'a': 1}": "unexpected \"'\" at character 1",
    "{a: 1}": "unexpected 'a' at character 1",
    "{1: 2}": "unexpected '1' at character 1",
    '{"a": 1 "b": 2}': "unexpected '\"' at character 8",
    '{"a"; 1}': "unexpected ';' at character 4",
    "[1}": "unexpected '}' at character 2",
    '{"a": 1]': "unexpected ']' at character 7",
    "[1,,2]": "unexpected ',' at character 3",
    "]": "unexpected ']' at character 0",
    "\ufeff[]": "unexpected '\\ufeff' at character 0",
    "```json {}": "unexpected '{' at character 8",
    "``json\n{}": "unexpected 'j' at character 2",
    "`\n{}": "unexpected '\\n' at character 1",
    "```json\n```json\n{}": "unexpected '`' at character 8",
    "```json\n{}\n```x": "unexpected 'x' at character 14",
    "```json\n{}\n````": "unexpected '`' at character 14",
    "{}\n```\n```": "unexpected '`' at character 7",
    "{}\n`` `": "unexpected ' ' at character 5",
}


@pytest.mark.parametrize("text", sorted(ERRORS))
def test_errors_say_where_and_stop_the_parser(text: str) -> None:
    expected = ERRORS[text]
    if "```" not in text:
        with pytest.raises(ValueError):
            strict_loads(text)
    for size in range(1, len(text) + 1):
        parser = PartialJSON()
        for piece in sized(text, size):
            parser.feed(piece)
        assert parser.error == expected, size
        before = parser.snapshot()
        # Nothing of the bad character shows: the snapshot is that of the text before it.
        valid = PartialJSON()
        valid.feed(text[: int(expected.rsplit(" ", 1)[1])])
        assert valid.error is None
        assert same(before, valid.snapshot())
        assert parser.feed("[1]") is False
        assert parser.feed('"') is False
        assert parser.finish() is False
        assert parser.error == expected
        assert same(parser.snapshot(), before)


def test_truncated_text_is_not_an_error() -> None:
    cases = [
        ("", NOTHING),
        ("   ", NOTHING),
        ("```json\n", NOTHING),
        ('{"a": [1, 2', {"a": [1, 2]}),  # finish completes the last number
        ('{"a": "hel', {"a": "hel"}),
        ('{"a": "x\\u00', {"a": "x"}),
        ('{"a": "x\\ud83d', {"a": "x"}),
        ('{"a": 1.', {}),
        ('{"a": tr', {}),
        ('{"a": true', {"a": True}),
        ('{"ke', {}),
        ('{"key": ', {}),
        ("[", []),
        ('"ab', "ab"),
        ("-", NOTHING),
        ("{}\n``", {}),
    ]
    for text, expected in cases:
        parser = PartialJSON()
        parser.feed(text)
        parser.finish()
        assert parser.error is None, text
        assert same(parser.snapshot(), expected), text
        assert same(parse_partial(text), expected), text
    assert PartialJSON().done is False
    assert parse_partial("{}") == {}


def test_feed_after_finish_is_ignored() -> None:
    parser = PartialJSON()
    parser.feed("[1, 2")
    assert parser.finish() is True
    assert parser.feed(", 3]") is False
    assert parser.snapshot() == [1, 2]
    assert parser.finish() is False


def test_duplicate_keys_behave_as_json_loads() -> None:
    """The last value wins, in the first one's place (the one case that is not a prefix)."""
    texts = [
        '{"a": 1, "b": 2, "a": 3}',
        '{"a": 1, "a": 1}',
        '{"a": "x", "a": ""}',
        '{"a": {}, "a": {"b": []}}',
        '{"a": {"x": [1]}, "b": [], "a": 2, "b": [[3]]}',
        '{"a": 1, "a": [{}], "a": {"c": "d"}}',
    ]
    for text in texts:
        parser = PartialJSON()
        previous = NOTHING
        for char in text:
            changed = parser.feed(char)
            snapshot = parser.snapshot()
            assert changed is (not same(previous, snapshot)), (text, char)
            previous = snapshot
        assert same(previous, json.loads(text))
        assert same(parse_partial(text), json.loads(text))


def test_nothing_is_a_singleton_with_a_name() -> None:
    import copy
    import pickle

    assert repr(NOTHING) == "NOTHING"
    assert copy.deepcopy(NOTHING) is NOTHING
    assert pickle.loads(pickle.dumps(NOTHING)) is NOTHING


# -- random documents -------------------------------------------------------------------

_CHARS = 'ab Z0"\\/\b\f\n\r\t\x00\x1f\x7féç中😀𝄞\u2028\ud83d\udc00'


def random_key(rng: random.Random) -> str:
    return "".join(rng.choice('ab \\"é😀\n\ud83d') for _ in range(rng.randrange(4)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return "".join(rng.choice(_CHARS) for _ in range(rng.randrange(8)))
    if kind == 1:
        return rng.choice([0, -1, 7, 10**20, -(10**30), rng.randrange(-1000, 1000)])
    if kind == 2:
        return rng.choice([0.5, -2.25, 1e-7, 6.02e23, -0.0, rng.uniform(-1e6, 1e6)])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind in (4, 5):
        return "".join(rng.choice("abc \\\"é😀") for _ in range(rng.randrange(3)))
    if kind in (6, 7):
        return {random_key(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(5))}
    return [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]


def random_text(rng: random.Random, value: Any) -> str:
    indent = rng.choice([None, None, 0, 2, "\t"])
    separators = rng.choice([None, (",", ":"), (" ,", " : ")])
    return json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=indent, separators=separators)


def test_random_documents_in_random_pieces() -> None:
    rng = random.Random(20240611)
    for _ in range(300):
        text = random_text(rng, random_value(rng))
        expected = json.loads(text)
        check(random_split(text, rng), expected)
        check(list(text), expected)


def test_random_mutations_agree_with_json_loads() -> None:
    """A text json.loads rejects leaves an error or an incomplete value; one it accepts,
    the same value."""
    rng = random.Random(7)
    noise = '{}[]:,"\\ 0-1.eE+tfnulx\n'  # no backtick: fences are tested on their own
    for _ in range(3000):
        text = random_text(rng, random_value(rng))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text) + 1)
            edit = rng.randrange(3)
            if edit == 0:
                text = text[:at] + text[at + 1 :]
            elif edit == 1:
                text = text[:at] + rng.choice(noise) + text[at:]
            else:
                text = text[:at] + rng.choice(noise) + text[at + 1 :]
        parser = PartialJSON()
        for piece in random_split(text, rng) if text else []:
            parser.feed(piece)
        parser.finish()
        try:
            expected = strict_loads(text)
        except ValueError:
            assert parser.error is not None or not parser.done, text
        else:
            assert parser.error is None and parser.done, (text, parser.error)
            assert same(parser.snapshot(), expected), text


def big_document(rng: random.Random, size: int = 100_000) -> str:
    """A structured-output reply of about ``size`` characters: records in a list."""
    items = []
    length = 0
    while length < size:
        item = {
            "id": len(items),
            "title": f"Item {len(items)}: caf\u00e9 \"quoted\" \\ {rng.random():.6f}",
            "tags": [rng.choice(["a", "b", "é", "😀"]) * rng.randint(1, 3) for _ in range(rng.randint(0, 4))],
            "score": rng.uniform(-1000, 1000),
            "count": rng.randrange(10**6),
            "ok": rng.random() < 0.5,
            "note": None,
            "nested": {"x": [1, 2, {"y": "z\n"}], "empty": {}},
        }
        items.append(item)
        length += len(json.dumps(item, ensure_ascii=False)) + 2
    return json.dumps({"items": items, "summary": "done"}, ensure_ascii=False)


def test_a_100_kb_reply_in_25_000_pieces() -> None:
    rng = random.Random(100)
    text = big_document(rng)
    assert len(text) >= 100_000
    pieces = random_split(text, rng, 25_000)
    parser = PartialJSON()
    previous = NOTHING
    for number, piece in enumerate(pieces):
        parser.feed(piece)
        if number % 250 == 0 or number > 24_900:
            snapshot = parser.snapshot()
            assert is_prefix(previous, snapshot)
            previous = snapshot
    parser.finish()
    assert parser.error is None and parser.done
    assert same(parser.snapshot(), json.loads(text))


def test_a_long_string_in_many_pieces() -> None:
    rng = random.Random(5)
    body = "".join(rng.choice('abcé😀"\\\n') for _ in range(50_000))
    text = json.dumps({"text": body, "n": 1})
    parser = PartialJSON()
    grown = ""
    for piece in random_split(text, rng, 25_000):
        parser.feed(piece)
        current = parser.snapshot().get("text", "")
        assert current.startswith(grown)
        grown = current
    parser.finish()
    assert parser.snapshot() == {"text": body, "n": 1}
