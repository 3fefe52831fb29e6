"""Candid text: a lexer and a recursive-descent parser for .did files, types and values.

Values parse to a small syntax tree (`Value`); `textual.py` turns it into Python values at a
type, since literals like `5` or `record { a = 1 }` only mean something at a type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from icchat.ic.idl.errors import CandidError
from icchat.ic.idl.types import (
    PRIMITIVES_BY_NAME,
    Blob,
    Func,
    Opt,
    PrincipalT,
    Rec,
    Record,
    Service,
    Tuple,
    Type,
    Variant,
    Vec,
    field_id,
    idl_hash,
    resolve,
)

# --- lexer -----------------------------------------------------------------------------------------


class Token(NamedTuple):
    kind: str  # "id", "text" (value: bytes), "nat" (value: int), "float" (value: str), "sym", "eof"
    value: Any
    pos: int


_SYMBOLS = ("->", "==", "!=", "!:", "(", ")", "{", "}", ";", ",", ":", "=", ".", "+", "-")
_NUMBER = re.compile(
    r"0x[0-9a-fA-F][0-9a-fA-F_]*"
    r"|[0-9][0-9_]*(?:\.(?:[0-9][0-9_]*)?)?(?:[eE][+-]?[0-9][0-9_]*)?"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIMPLE_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\", '"': b'"', "'": b"'"}


def tokenize(src: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
        elif src.startswith("//", i):
            end = src.find("\n", i)
            i = n if end < 0 else end + 1
        elif src.startswith("/*", i):
            i = _skip_block_comment(src, i)
        elif c == '"':
            value, i2 = _read_text(src, i)
            tokens.append(Token("text", value, i))
            i = i2
        elif c.isdigit():
            m = _NUMBER.match(src, i)
            assert m is not None
            text = m.group()
            if text.startswith("0x"):
                tokens.append(Token("nat", int(text[2:].replace("_", ""), 16), i))
            elif any(ch in text for ch in ".eE"):
                tokens.append(Token("float", text.replace("_", ""), i))
            else:
                tokens.append(Token("nat", int(text.replace("_", "")), i))
            i = m.end()
        elif c.isalpha() or c == "_":
            m = _IDENT.match(src, i)
            assert m is not None
            tokens.append(Token("id", m.group(), i))
            i = m.end()
        else:
            for sym in _SYMBOLS:
                if src.startswith(sym, i):
                    tokens.append(Token("sym", sym, i))
                    i += len(sym)
                    break
            else:
                raise _error(src, i, f"unexpected character {c!r}")
    tokens.append(Token("eof", None, n))
    return tokens


def _skip_block_comment(src: str, i: int) -> int:
    depth, start = 0, i
    while i < len(src):
        if src.startswith("/*", i):
            depth += 1
            i += 2
        elif src.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise _error(src, start, "unclosed block comment")


def _read_text(src: str, start: int) -> tuple[bytes, int]:
    out = bytearray()
    i = start + 1
    while True:
        if i >= len(src):
            raise _error(src, start, "unclosed text literal")
        c = src[i]
        if c == '"':
            return bytes(out), i + 1
        if c != "\\":
            out += c.encode("utf-8", "surrogatepass")
            i += 1
            continue
        esc = src[i + 1 : i + 2]
        if esc in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[esc]
            i += 2
        elif esc == "u":
            m = re.compile(r"\\u\{([0-9a-fA-F][0-9a-fA-F_]*)\}").match(src, i)
            if not m:
                raise _error(src, i, "bad unicode escape (expected \\u{HEX})")
            code = int(m.group(1).replace("_", ""), 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise _error(src, i, f"\\u{{{m.group(1)}}} is not a Unicode scalar value")
            out += chr(code).encode("utf-8")
            i = m.end()
        elif re.fullmatch(r"[0-9a-fA-F]{2}", src[i + 1 : i + 3]):
            out.append(int(src[i + 1 : i + 3], 16))
            i += 3
        else:
            raise _error(src, i, f"unknown escape sequence \\{esc}")


def _error(src: str, pos: int, message: str) -> CandidError:
    line = src.count("\n", 0, pos) + 1
    col = pos - (src.rfind("\n", 0, pos) + 1) + 1
    return CandidError(f"line {line}, column {col}: {message}")


# --- value syntax tree -------------------------------------------------------------------------------


@dataclass
class Value:
    """One textual value; `kind` is one of: num, text, bool, null, opt, vec, blob, record,
    variant, principal, service, func, annot. `items` holds (key, Value) pairs for records
    (key None = positional) and the single case of a variant."""

    kind: str
    data: Any = None
    items: list[tuple[str | int | None, Value]] = field(default_factory=list)
    type: Type | None = None  # for annot


# --- parser ------------------------------------------------------------------------------------------


@dataclass
class Did:
    """A parsed .did file: named types (as `Rec` knots), and the service if it declares one."""

    types: dict[str, Rec]
    service: Service | None = None
    init: list[Type] | None = None  # class-style `service : (init args) -> {...}`


class Parser:
    """Recursive descent over tokens; public token helpers let test harnesses extend the grammar."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.tokens = tokenize(src)
        self.i = 0
        self.names: dict[str, Rec] = {}
        self.defined: dict[str, None] = {}  # in definition order
        self.services: list[Service] = []  # their methods are checked once all names are known

    # tokens
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def at(self, kind: str, value: Any = None, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind == kind and (value is None or tok.value == value)

    def at_sym(self, sym: str, ahead: int = 0) -> bool:
        return self.at("sym", sym, ahead)

    def at_keyword(self, word: str, ahead: int = 0) -> bool:
        return self.at("id", word, ahead)

    def accept_sym(self, sym: str) -> bool:
        if self.at_sym(sym):
            self.i += 1
            return True
        return False

    def expect_sym(self, sym: str) -> None:
        if not self.accept_sym(sym):
            raise self.error(f"expected {sym!r}")

    def expect_keyword(self, word: str) -> None:
        if not self.at_keyword(word):
            raise self.error(f"expected {word!r}")
        self.i += 1

    def at_eof(self) -> bool:
        return self.peek().kind == "eof"

    def error(self, message: str) -> CandidError:
        tok = self.peek()
        found = "end of input" if tok.kind == "eof" else repr(tok.value)
        return _error(self.src, tok.pos, f"{message}, found {found}")

    def text_literal(self) -> bytes:
        tok = self.peek()
        if tok.kind != "text":
            raise self.error("expected a text literal")
        self.i += 1
        return tok.value

    def string(self) -> str:
        raw = self.text_literal()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _error(self.src, self.peek(-1).pos, "text literal is not valid UTF-8") from None

    def name(self) -> str:
        tok = self.peek()
        if tok.kind == "id":
            self.i += 1
            return tok.value
        if tok.kind == "text":
            return self.string()
        raise self.error("expected a name")

    # types
    def datatype(self) -> Type:
        tok = self.peek()
        if tok.kind != "id":
            raise self.error("expected a type")
        word = tok.value
        self.i += 1
        prim = PRIMITIVES_BY_NAME.get(word)
        if prim is not None:
            return prim
        if word == "opt":
            return Opt(self.datatype())
        if word == "vec":
            return Vec(self.datatype())
        if word == "blob":
            return Blob
        if word == "principal":
            return PrincipalT
        if word in ("record", "variant"):
            return self._fields(word)
        if word == "func":
            return self.functype()
        if word == "service":
            return self.actortype()
        rec = self.names.get(word)
        if rec is None:
            rec = self.names[word] = Rec(name=word)
        return rec

    def _fields(self, kind: str) -> Type:
        self.expect_sym("{")
        fields: list[tuple[str | int, Type]] = []
        next_id = 0
        positional = True  # `record { nat; text }` is a tuple, and reads as one in Python
        while not self.accept_sym("}"):
            if (self.at("nat") or self.at("id") or self.at("text")) and self.at_sym(":", 1):
                tok = self.peek()
                key: str | int = self.next().value if tok.kind == "nat" else self.name()
                self.expect_sym(":")
                t = self.datatype()
                positional = False
            elif kind == "variant" and (self.at("nat") or self.at("id") or self.at("text")):
                tok = self.peek()
                key = self.next().value if tok.kind == "nat" else self.name()
                t = PRIMITIVES_BY_NAME["null"]
            elif kind == "record":
                key = next_id
                t = self.datatype()
            else:
                raise self.error("expected a variant case")
            try:
                next_id = field_id(key) + 1
            except CandidError as exc:
                raise self.error(str(exc)) from None
            fields.append((key, t))
            if not self.accept_sym(";"):
                self.expect_sym("}")
                break
        try:
            if kind == "record" and positional and fields:
                return Tuple(*(t for _, t in fields))
            return Record(fields) if kind == "record" else Variant(fields)
        except CandidError as exc:
            raise self.error(str(exc)) from None

    def tuple_type(self) -> list[Type]:
        """`( argtype,* )`, where an argument may be named (`name : type`)."""
        self.expect_sym("(")
        types = []
        while not self.accept_sym(")"):
            if (self.at("id") or self.at("text")) and self.at_sym(":", 1):
                self.name()
                self.expect_sym(":")
            types.append(self.datatype())
            if not self.accept_sym(","):
                self.expect_sym(")")
                break
        return types

    def functype(self) -> Func:
        args = self.tuple_type()
        self.expect_sym("->")
        rets = self.tuple_type()
        annotations = []
        while self.peek().kind == "id" and self.peek().value in ("query", "oneway", "composite_query"):
            annotations.append(self.next().value)
        return Func(args, rets, annotations)

    def actortype(self) -> Service:
        self.expect_sym("{")
        methods: list[tuple[str, Type]] = []
        while not self.accept_sym("}"):
            name = self.name()
            self.expect_sym(":")
            methods.append((name, self.functype() if self.at_sym("(") else self.datatype()))
            if not self.accept_sym(";"):
                self.expect_sym("}")
                break
        try:
            service = Service(methods)
        except CandidError as exc:
            raise self.error(str(exc)) from None
        self.services.append(service)
        return service

    # programs
    def definition(self) -> None:
        """`type name = datatype;` (the caller has checked for `type`)."""
        self.expect_keyword("type")
        name = self.name()
        if name in self.defined:
            raise self.error(f"type {name} is defined twice")
        self.expect_sym("=")
        t = self.datatype()
        rec = self.names.get(name)
        if rec is None:
            rec = self.names[name] = Rec(name=name)
        rec.fill(t)
        self.defined[name] = None
        self.expect_sym(";")

    def program(self) -> Did:
        while True:
            if self.at_keyword("type"):
                self.definition()
            elif self.at_keyword("import"):
                raise self.error("imports are not supported; inline the imported file")
            else:
                break
        did = Did(types={})
        if self.at_keyword("service"):
            self.i += 1
            if self.at("id"):
                self.i += 1  # the service's name carries no meaning
            self.expect_sym(":")
            if self.at_sym("("):
                did.init = self.tuple_type()
                self.expect_sym("->")
            service = self.actortype() if self.at_sym("{") else self.datatype()
            resolved = self._resolved(service)
            if not isinstance(resolved, Service):
                raise self.error("the service must have a service type")
            did.service = resolved
            self.accept_sym(";")
        if not self.at_eof():
            raise self.error("expected a type definition or the service")
        self.finish()
        did.types = {name: self.names[name] for name in self.defined}
        return did

    def finish(self) -> None:
        """Check that every referenced type name is defined and well-founded."""
        missing = sorted(set(self.names) - self.defined.keys())
        if missing:
            raise CandidError(f"undefined type name(s): {', '.join(missing)}")
        for rec in self.names.values():
            resolve(rec)  # raises for `type a = b; type b = a`
        for service in self.services:
            for name, m in service.methods.items():
                if not isinstance(resolve(m), Func):
                    raise CandidError(f"method {name!r} must have a func type, not {m}")

    def _resolved(self, t: Type) -> Type:
        try:
            self.finish()
            return resolve(t)
        except CandidError as exc:
            raise self.error(str(exc)) from None

    # values
    def value(self) -> Value:
        tok = self.peek()
        if tok.kind == "sym" and tok.value in ("+", "-"):
            self.i += 1
            num = self.next()
            if num.kind not in ("nat", "float"):
                raise self.error("expected a number after the sign")
            return Value("num", (tok.value, num))
        if tok.kind in ("nat", "float"):
            self.i += 1
            return Value("num", ("", tok))
        if tok.kind == "text":
            return Value("text", self.text_literal())
        if tok.kind == "sym" and tok.value == "(":
            self.i += 1
            inner = self.value()
            if self.accept_sym(":"):
                inner = Value("annot", inner, type=self.datatype())
            self.expect_sym(")")
            return inner
        if tok.kind != "id":
            raise self.error("expected a value")
        word = tok.value
        self.i += 1
        if word in ("true", "false"):
            return Value("bool", word == "true")
        if word == "null":
            return Value("null")
        if word == "opt":
            return Value("opt", self.value())
        if word == "vec":
            self.expect_sym("{")
            items = []
            while not self.accept_sym("}"):
                items.append(self.value())
                if not self.accept_sym(";"):
                    self.expect_sym("}")
                    break
            return Value("vec", items)
        if word == "blob":
            return Value("blob", self.text_literal())
        if word in ("principal", "service"):
            return Value(word, self.string())
        if word == "func":
            service = self.string()
            self.expect_sym(".")
            return Value("func", (service, self.name()))
        if word in ("record", "variant"):
            return self._field_values(word)
        raise _error(self.src, tok.pos, f"unknown value keyword {word!r}")

    def _field_values(self, kind: str) -> Value:
        self.expect_sym("{")
        items: list[tuple[str | int | None, Value]] = []
        while not self.accept_sym("}"):
            if (self.at("nat") or self.at("id") or self.at("text")) and self.at_sym("=", 1):
                key: str | int | None = self.next().value if self.at("nat") else self.name()
                self.expect_sym("=")
                items.append((key, self.value()))
            elif kind == "variant" and (self.at("nat") or self.at("id") or self.at("text")):
                key = self.next().value if self.at("nat") else self.name()
                items.append((key, Value("null")))
            else:
                items.append((None, self.value()))
            if not self.accept_sym(";"):
                self.expect_sym("}")
                break
        if kind == "variant" and (len(items) != 1 or items[0][0] is None):
            raise self.error("a variant value has exactly one named case")
        return Value(kind, items=items)

    def args(self) -> list[Value]:
        """`( value,* )`"""
        self.expect_sym("(")
        values = []
        while not self.accept_sym(")"):
            values.append(self.value())
            if not self.accept_sym(","):
                self.expect_sym(")")
                break
        return values


def field_key_id(key: str | int) -> int:
    return key if isinstance(key, int) else idl_hash(key)
