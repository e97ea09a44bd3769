"""An incremental, tolerant JSON parser: partial snapshots of a JSON reply as it streams."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["NOTHING", "PartialJSON", "parse_partial"]


class _Nothing:
    """The type of :data:`NOTHING` (one instance; copies and pickles stay that instance)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOTHING"

    def __reduce__(self) -> str:
        return "NOTHING"


#: The snapshot before any value has started.
NOTHING: Any = _Nothing()

# Parser states: where the next character falls.
_START = 0  # before the top-level value (white space and an opening code fence allowed)
_FENCE = 1  # in the opening code fence, up to its newline
_VALUE = 2  # a value is due (after ":" or after "," in a list)
_FIRST_VALUE = 3  # just after "[": a value or "]"
_KEY_OR_END = 4  # just after "{": a key or "}"
_KEY = 5  # after "," in an object: a key
_IN_KEY = 6
_COLON = 7
_IN_STRING = 8  # in a string value
_NUMBER = 9
_LITERAL = 10  # true, false or null
_AFTER_VALUE = 11  # after a value in a container: ",", its closing bracket or white space
_TRAILING = 12  # after the top-level value: white space and a closing code fence only

_WS = re.compile(r"[ \t\n\r]*")
_WS_CHARS = frozenset(" \t\n\r")
_STRING_STOP = re.compile(r'["\\\x00-\x1f]')
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# Every prefix of an opening fence up to its newline (the language is loosely a word).
_FENCE_PREFIX = re.compile(r"`{1,2}|```[\w.+-]*[ \t]*\r?")
_FENCE_MAX = 40
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_LITERAL_WORDS = {"t": "true", "f": "false", "n": "null"}
# What may follow a number or literal: it is complete only then.
_END_IN_DICT = frozenset(" \t\n\r,}")
_END_IN_LIST = frozenset(" \t\n\r,]")
_END_AT_TOP = frozenset(" \t\n\r`")


def _number_dfa() -> tuple[dict[str, int], ...]:
    """The JSON number grammar, one character at a time (for numbers split across pieces)."""
    digits = "0123456789"
    nonzero = {d: 3 for d in digits[1:]}
    exp = {"e": 6, "E": 6}
    return (
        {"-": 1, "0": 2, **nonzero},  # 0: start
        {"0": 2, **nonzero},  # 1: after "-"
        {".": 4, **exp},  # 2: "0"
        {**{d: 3 for d in digits}, ".": 4, **exp},  # 3: integer digits
        {d: 5 for d in digits},  # 4: after "."
        {**{d: 5 for d in digits}, **exp},  # 5: fraction digits
        {"+": 7, "-": 7, **{d: 8 for d in digits}},  # 6: after "e"
        {d: 8 for d in digits},  # 7: after the exponent's sign
        {d: 8 for d in digits},  # 8: exponent digits
    )


_NUMBER_DFA = _number_dfa()
_NUMBER_FINAL = frozenset({2, 3, 5, 8})
_NUMBER_INT = frozenset({2, 3})


class PartialJSON:
    """Parses a JSON text fed in pieces of any size; :meth:`snapshot` is the value so far.

    Each character is examined once, so the total work is linear in the text.
    Every snapshot is a prefix of the final value: object keys are only added, in
    order, and only the last one's value may still grow; lists only grow, and only
    their last element; strings only extend. A key appears once its value starts (a
    string as ``""``, an object as ``{}``, a list as ``[]``); a number, ``true``,
    ``false`` or ``null`` only once complete, i.e. once followed by a delimiter or
    :meth:`finish`. A partial key, escape sequence or high surrogate contributes
    nothing until complete.

    Leading white space and a Markdown code fence (```` ```json ```` and a newline)
    are skipped, and so is a closing fence after the value. The grammar is strict
    JSON (no ``NaN``, no raw control characters in strings): at the first character
    that cannot be JSON, :attr:`error` says which and where (0-based, counted over
    all pieces) and later pieces are ignored; nothing is raised. A truncated text
    is no error: :attr:`done` tells whether the top-level value was complete.
    Duplicate keys behave as in :func:`json.loads` (the last value wins, in the
    first one's place), the one case where a snapshot is not a prefix of the next.
    """

    __slots__ = (
        "error",
        "done",
        "_state",
        "_root",
        "_stack",
        "_keys",
        "_parts",
        "_stale",
        "_escape",
        "_high",
        "_number",
        "_nstate",
        "_word",
        "_matched",
        "_fence",
        "_fenced",
        "_ticks",
        "_offset",
        "_nested",
        "_dropped",
        "_changed",
        "_finished",
    )

    def __init__(self) -> None:
        self.error: str | None = None
        self.done = False
        self._state = _START
        self._root: Any = NOTHING
        self._stack: list[Any] = []  # the open containers, outermost first
        self._keys: list[str | None] = []  # each open object's current key (None for a list)
        self._parts: list[str] = []  # the open string's text (a key's or a value's)
        self._stale = False  # the open value string has text not yet stored in its place
        self._escape: str | None = None  # an unfinished escape after its backslash: "", "u", "u00"...
        self._high = ""  # a high surrogate waiting for its low half
        self._number: list[str] = []  # a number's text from earlier pieces
        self._nstate = 0  # its state in _NUMBER_DFA
        self._word = ""  # the literal being read
        self._matched = 0  # how many of its characters were read
        self._fence = ""  # the opening fence read so far
        self._fenced = False
        self._ticks = 0  # backticks of the closing fence
        self._offset = 0  # characters fed before the current piece
        self._nested: dict[int, list[Any]] = {}  # id of a container: where it holds containers
        self._dropped: list[Any] = []  # containers a duplicate key replaced, kept so ids stay unique
        self._changed = False
        self._finished = False

    # -- public API -------------------------------------------------------------------

    def feed(self, text: str) -> bool:
        """Consume the next piece; True when the snapshot changed."""
        if self.error is not None or self._finished or not text:
            return False
        self._changed = False
        i, n = 0, len(text)
        ws = _WS.match
        while i < n:
            state = self._state
            if state == _IN_STRING or state == _IN_KEY:
                i = self._string(text, i, n)
                continue
            if state == _NUMBER:
                i = self._more_number(text, i, n)
                continue
            if state == _LITERAL:
                i = self._literal(text, i, n)
                continue
            if state == _FENCE:
                i = self._opening_fence(text, i, n)
                continue
            c = text[i]
            if state == _TRAILING:  # white space, then at most "```", then white space
                if c == "`" and self._ticks < 3:
                    self._ticks += 1
                    i += 1
                elif c in _WS_CHARS and (self._ticks == 0 or self._ticks == 3):
                    i = ws(text, i).end()
                else:
                    i = self._fail(text, i)
                continue
            if c in _WS_CHARS:
                i = ws(text, i).end()
                continue
            if state == _AFTER_VALUE:
                is_dict = self._stack[-1].__class__ is dict
                if c == ",":
                    self._state = _KEY if is_dict else _VALUE
                    i += 1
                elif c == ("}" if is_dict else "]"):
                    self._close()
                    i += 1
                else:
                    i = self._fail(text, i)
            elif state == _VALUE or state == _START:
                if c == "`" and state == _START and not self._fenced:
                    self._state = _FENCE
                else:
                    i = self._start_value(text, i, n)
            elif state == _COLON:
                if c == ":":
                    self._state = _VALUE
                    i += 1
                else:
                    i = self._fail(text, i)
            elif state == _KEY or state == _KEY_OR_END:
                if c == '"':
                    self._parts = []
                    self._state = _IN_KEY
                    i += 1
                elif c == "}" and state == _KEY_OR_END:
                    self._close()
                    i += 1
                else:
                    i = self._fail(text, i)
            else:  # _FIRST_VALUE
                if c == "]":
                    self._close()
                    i += 1
                else:
                    i = self._start_value(text, i, n)
        self._offset += n
        return self._changed

    def finish(self) -> bool:
        """The text ended: complete a pending number or literal; True when the snapshot changed.

        Later pieces are ignored. A truncated text sets no error (``done`` stays False).
        """
        if self.error is not None or self._finished:
            return False
        self._finished = True
        self._changed = False
        if self._state == _NUMBER and self._nstate in _NUMBER_FINAL:
            token = "".join(self._number)
            self._number = []
            self._put_number(token, self._nstate in _NUMBER_INT, self._offset - len(token))
        elif self._state == _LITERAL and self._matched == len(self._word):
            self._put(_LITERALS[self._word])
            self._value_done()
        return self._changed

    def snapshot(self) -> Any:
        """A fresh copy (nothing shared with the parser or earlier snapshots) of the
        value so far; :data:`NOTHING` before any value started.

        Its cost grows with the number of objects and lists in the value (strings,
        being immutable, are shared), so callers snapshot when :meth:`feed` says so.
        """
        if self._stale:
            text = "".join(self._parts)
            self._parts = [text]
            self._store_string(text)
        root = self._root
        if root.__class__ is dict or root.__class__ is list:
            return _copy(root, self._nested)
        return root

    # -- values -----------------------------------------------------------------------

    def _start_value(self, text: str, i: int, n: int) -> int:
        """The value starting at ``text[i]``; the index after what was consumed."""
        c = text[i]
        if c == '"':
            self._put("")
            self._parts = []
            self._state = _IN_STRING
            return i + 1
        if c == "{" or c == "[":
            container: Any = {} if c == "{" else []
            self._put(container)
            self._stack.append(container)
            self._keys.append(None)
            self._state = _KEY_OR_END if c == "{" else _FIRST_VALUE
            return i + 1
        if c == "-" or "0" <= c <= "9":
            match = _NUMBER_RE.match(text, i)
            if match is not None:  # the usual case: the whole number and its delimiter in this piece
                end = match.end()
                if end < n and text[end] in self._ends():
                    is_int = match.group(1) is None and match.group(2) is None
                    return end if self._put_number(match.group(), is_int, self._offset + i) else n
            self._number = []
            self._nstate = 0
            self._state = _NUMBER
            return i
        word = _LITERAL_WORDS.get(c)
        if word is None:
            return self._fail(text, i)
        self._word = word
        self._matched = 0
        self._state = _LITERAL
        return i

    def _more_number(self, text: str, i: int, n: int) -> int:
        """Continue a number (one character at a time, as it may span pieces)."""
        state = self._nstate
        dfa = _NUMBER_DFA
        start = i
        while i < n:
            follow = dfa[state].get(text[i])
            if follow is None:
                break
            state = follow
            i += 1
        self._nstate = state
        if i == n:
            self._number.append(text[start:])
            return n
        if state not in _NUMBER_FINAL or text[i] not in self._ends():
            return self._fail(text, i)
        token = "".join(self._number) + text[start:i]
        self._number = []
        return i if self._put_number(token, state in _NUMBER_INT, self._offset + i - len(token)) else n

    def _put_number(self, token: str, is_int: bool, position: int) -> bool:
        """Place a complete number; False (and ``error`` set) if Python cannot hold it."""
        try:
            value = int(token) if is_int else float(token)
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            self.error = f"number too long at character {position}"
            return False
        self._put(value)
        self._value_done()
        return True

    def _literal(self, text: str, i: int, n: int) -> int:
        word = self._word
        k = self._matched
        size = len(word)
        while k < size and i < n:
            if text[i] != word[k]:
                return self._fail(text, i)
            k += 1
            i += 1
        self._matched = k
        if i == n:
            return n
        if text[i] not in self._ends():
            return self._fail(text, i)
        self._put(_LITERALS[word])
        self._value_done()
        return i

    def _ends(self) -> frozenset[str]:
        """The characters that may follow a number or literal here."""
        if not self._stack:
            return _END_AT_TOP
        return _END_IN_DICT if self._stack[-1].__class__ is dict else _END_IN_LIST

    def _put(self, value: Any) -> None:
        """Place a value that has started; a visible change (unless a duplicate key's same value).

        Where a container holds containers is noted in ``_nested``, for :func:`_copy`.
        """
        stack = self._stack
        nests = value.__class__ is dict or value.__class__ is list
        if not stack:
            self._root = value
        else:
            top = stack[-1]
            if top.__class__ is list:
                top.append(value)
                if nests:
                    self._nested.setdefault(id(top), []).append(len(top) - 1)
            else:
                key = self._keys[-1]
                if key not in top:
                    top[key] = value
                    if nests:
                        self._nested.setdefault(id(top), []).append(key)
                else:  # a duplicate key: the last value wins, in the first one's place
                    old = top[key]
                    top[key] = value
                    nested = old.__class__ is dict or old.__class__ is list
                    if nested:
                        self._dropped.append(old)
                    if nests and not nested:
                        self._nested.setdefault(id(top), []).append(key)
                    elif nested and not nests:
                        self._nested[id(top)].remove(key)
                    if old.__class__ is value.__class__ and old == value:
                        return
        self._changed = True

    def _value_done(self) -> None:
        """A scalar value is complete."""
        if self._stack:
            self._state = _AFTER_VALUE
        else:
            self.done = True
            self._state = _TRAILING

    def _close(self) -> None:
        """The innermost container's closing bracket."""
        self._stack.pop()
        self._keys.pop()
        self._value_done()

    # -- strings ----------------------------------------------------------------------

    def _string(self, text: str, i: int, n: int) -> int:
        """Continue the open key or string value: plain runs in bulk, escapes one by one."""
        parts = self._parts
        visible = self._state == _IN_STRING
        while i < n:
            if self._escape is not None:
                i = self._escape_sequence(text, i, n)
                continue
            match = _STRING_STOP.search(text, i)
            stop = n if match is None else match.start()
            if stop > i:
                if self._high:
                    parts.append(self._high)
                    self._high = ""
                parts.append(text[i:stop])
                if visible:
                    self._stale = self._changed = True
                i = stop
                if match is None:
                    return n
            c = text[i]
            if c == "\\":
                self._escape = ""
                i += 1
            elif c == '"':
                self._end_string()
                return i + 1
            else:
                return self._fail(text, i)  # a raw control character
        return i

    def _escape_sequence(self, text: str, i: int, n: int) -> int:
        """Continue the escape after a backslash; its character once it is complete."""
        escape = self._escape
        if not escape:  # the character after the backslash
            c = text[i]
            if c == "u":
                self._escape = "u"
                return i + 1
            char = _ESCAPES.get(c)
            if char is None:
                return self._fail(text, i)
            self._escape = None
            self._emit(char)
            return i + 1
        chunk = text[i : i + 5 - len(escape)]
        for k, h in enumerate(chunk):
            if h not in _HEX:
                return self._fail(text, i + k)
        escape += chunk
        i += len(chunk)
        if len(escape) < 5:
            self._escape = escape
            return i
        self._escape = None
        code = int(escape[1:], 16)
        if 0xDC00 <= code <= 0xDFFF and self._high:
            high = ord(self._high)
            self._high = ""
            self._emit(chr(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)))
        elif 0xD800 <= code <= 0xDBFF:
            if self._high:  # the previous one stays alone, as in json.loads
                self._emit("")
            self._high = chr(code)
        else:
            self._emit(chr(code))
        return i

    def _emit(self, char: str) -> None:
        """Add a decoded character (after a waiting high surrogate, which is then alone)."""
        if self._high:
            self._parts.append(self._high)
            self._high = ""
        if char:
            self._parts.append(char)
        if self._state == _IN_STRING:
            self._stale = self._changed = True

    def _end_string(self) -> None:
        if self._high:
            self._emit("")
        text = "".join(self._parts)
        self._parts = []
        if self._state == _IN_KEY:
            self._keys[-1] = text
            self._state = _COLON
            return
        if self._stale:
            self._store_string(text)
        self._value_done()

    def _store_string(self, text: str) -> None:
        """Put the open string value's current text in its place."""
        self._stale = False
        stack = self._stack
        if not stack:
            self._root = text
        elif stack[-1].__class__ is list:
            stack[-1][-1] = text
        else:
            stack[-1][self._keys[-1]] = text

    # -- fences and errors --------------------------------------------------------------

    def _opening_fence(self, text: str, i: int, n: int) -> int:
        """Continue an opening code fence, up to and including its newline."""
        newline = text.find("\n", i)
        end = n if newline < 0 else newline
        had = len(self._fence)
        fence = self._fence + text[i:end]
        if len(fence) > _FENCE_MAX or not _FENCE_PREFIX.fullmatch(fence):
            good = had  # every prefix of a valid fence is valid: find the first bad character
            while good < len(fence) and good < _FENCE_MAX and _FENCE_PREFIX.fullmatch(fence, 0, good + 1):
                good += 1
            return self._fail(text, i + good - had)
        if newline < 0:
            self._fence = fence
            return n
        if not fence.startswith("```"):
            return self._fail(text, newline)
        self._fence = ""
        self._fenced = True
        self._state = _START
        return newline + 1

    def _fail(self, text: str, i: int) -> int:
        """Record that ``text[i]`` cannot be JSON; the index that ends the piece."""
        self.error = f"unexpected {text[i]!r} at character {self._offset + i}"
        return len(text)


def _copy(value: Any, nested: dict[int, list[Any]]) -> Any:
    """A deep copy of the dict or list ``value``: each container is copied in C and only
    the places ``nested`` lists are copied again (no recursion, so any depth)."""
    top = value.copy()
    todo = [(value, top)]
    where = nested.get
    while todo:
        source, target = todo.pop()
        places = where(id(source))
        if places:
            for place in places:
                child = source[place]
                target[place] = copy = child.copy()
                todo.append((child, copy))
    return top


def parse_partial(text: str) -> Any:
    """The snapshot of ``text`` taken as the whole reply (fed at once, then finished)."""
    parser = PartialJSON()
    parser.feed(text)
    parser.finish()
    return parser.snapshot()
