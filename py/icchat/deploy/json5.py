"""Enough JSON5 for `.ic-assets.json5`: JSON plus // and /* */ comments, trailing commas,
single-quoted strings, unquoted (identifier) keys, hex numbers, +/-Infinity and NaN.

    loads("[{ match: '**/*', cache: { max_age: 60, }, }]")   # [{'match': '**/*', ...}]

Errors are `JSON5Error` (a ValueError) naming the line and column.
"""

from __future__ import annotations

import math
import re
from typing import Any

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|Infinity|NaN)")
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "0": "\0",
            "\n": "", "'": "'", '"': '"', "\\": "\\", "/": "/"}
MAX_DEPTH = 64


class JSON5Error(ValueError):
    pass


def loads(text: str) -> Any:
    parser = _Parser(text)
    value = parser.value(0)
    parser.skip()
    if parser.pos != len(text):
        raise parser.error("unexpected text after the value")
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> JSON5Error:
        line = self.text.count("\n", 0, self.pos) + 1
        column = self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1
        return JSON5Error(f"line {line}, column {column}: {message}")

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            if text[self.pos].isspace() or text[self.pos] == "\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated /* comment")
                self.pos = end + 2
            else:
                return

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH}")
        c = self.peek()
        if c == "{":
            return self.obj(depth)
        if c == "[":
            return self.array(depth)
        if c in "'\"" and c:
            return self.string()
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return _number(match.group(0))
        raise self.error("expected a value" if c else "unexpected end of input")

    def obj(self, depth: int) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while True:
            c = self.peek()
            if c == "}":
                self.pos += 1
                return out
            if c in ("'", '"'):
                key = self.string()
            else:
                match = _IDENT.match(self.text, self.pos)
                if not match:
                    raise self.error("expected a key (string or identifier)")
                key, self.pos = match.group(0), match.end()
            if self.peek() != ":":
                raise self.error(f"expected ':' after key {key!r}")
            self.pos += 1
            out[key] = self.value(depth + 1)
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c != "}":
                raise self.error("expected ',' or '}'")

    def array(self, depth: int) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while True:
            if self.peek() == "]":
                self.pos += 1
                return out
            out.append(self.value(depth + 1))
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c != "]":
                raise self.error("expected ',' or ']'")

    def string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        parts = []
        text = self.text
        while True:
            if self.pos >= len(text):
                raise self.error("unterminated string")
            c = text[self.pos]
            if c == quote:
                self.pos += 1
                return "".join(parts)
            if c == "\n":
                raise self.error("newline in a string (escape it with a backslash)")
            if c == "\\":
                esc = text[self.pos + 1:self.pos + 2]
                if esc == "u":
                    hex4 = text[self.pos + 2:self.pos + 6]
                    if not re.fullmatch(r"[0-9a-fA-F]{4}", hex4):
                        raise self.error("bad \\u escape")
                    parts.append(chr(int(hex4, 16)))
                    self.pos += 6
                    continue
                if esc == "x":
                    hex2 = text[self.pos + 2:self.pos + 4]
                    if not re.fullmatch(r"[0-9a-fA-F]{2}", hex2):
                        raise self.error("bad \\x escape")
                    parts.append(chr(int(hex2, 16)))
                    self.pos += 4
                    continue
                parts.append(_ESCAPES.get(esc, esc))
                self.pos += 2
                continue
            parts.append(c)
            self.pos += 1


def _number(token: str) -> int | float:
    sign = -1 if token.startswith("-") else 1
    body = token.lstrip("+-")
    if body == "Infinity":
        return sign * math.inf
    if body == "NaN":
        return math.nan
    if body[:2] in ("0x", "0X"):
        return sign * int(body, 16)
    if re.fullmatch(r"\d+", body):
        return sign * int(body)
    return sign * float(body)
