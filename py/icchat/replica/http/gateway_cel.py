"""The `IC-CertificateExpression` header of response verification v2 (HTTP Gateway Protocol,
"The Certificate Expression Header"):

    default_certification(ValidationArgs{no_certification:Empty{}})
    default_certification(ValidationArgs{certification:Certification{
        no_request_certification:Empty{}
      | request_certification:RequestCertification{certified_request_headers:["..."],
                                                   certified_query_parameters:["..."]},
        response_certification:ResponseCertification{
            certified_response_headers:ResponseHeaderList{headers:["..."]}
          | response_header_exclusions:ResponseHeaderList{headers:["..."]}}}})

The spec's grammar has no whitespace; like the IC's verifier we accept whitespace between
tokens. Object fields may come in any order; a repeated field keeps its last value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_EXPRESSION_CHARS = 64 * 1024
MAX_DEPTH = 16  # the grammar nests 6 levels; anything deeper is not an expression


class CelError(ValueError):
    """The header is not a certification expression the spec allows; the message says why."""


@dataclass(frozen=True)
class Certification:
    """What a v2 certification covers. `skip`: nothing (no_certification). Otherwise the response
    (status, body and the selected headers) and, unless `request_headers is None`, the request."""

    skip: bool = False
    request_headers: tuple[str, ...] | None = None  # None: no_request_certification
    query_parameters: tuple[str, ...] = ()
    response_headers: tuple[str, ...] = ()  # names certified, or excluded when `exclude_headers`
    exclude_headers: bool = False

    @property
    def certifies_request(self) -> bool:
        return not self.skip and self.request_headers is not None


# --- a tiny parser for the CEL subset the header uses ----------------------------------------------

_TOKEN = re.compile(r'\s*(?:([A-Za-z_][A-Za-z0-9_]*)|"((?:[^"\\\n\0]|\\["n\\])*)"|([{}()\[\],:]))')


@dataclass(frozen=True)
class _Object:
    name: str
    fields: dict[str, _Value]


@dataclass(frozen=True)
class _Call:
    name: str
    args: list[_Value]


_Value = str | list | _Object | _Call


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []  # (kind, text): kind is "ident", "string" or the punctuation
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                if text[position:].strip() == "":
                    break
                raise CelError(f"unexpected character {text[position:].lstrip()[:1]!r} at offset {position}")
            ident, string, punct = match.groups()
            if ident is not None:
                self.tokens.append(("ident", ident))
            elif string is not None:
                self.tokens.append(("string", re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), string)))
            else:
                self.tokens.append((punct, punct))
            position = match.end()
        self.index = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def take(self, kind: str) -> str:
        if self.peek() != kind:
            found = "the end" if self.peek() is None else repr(self.tokens[self.index][1])
            raise CelError(f"expected {kind} but found {found}")
        self.index += 1
        return self.tokens[self.index - 1][1]

    def value(self) -> _Value:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise CelError(f"the expression nests deeper than {MAX_DEPTH} levels")
            return self._value()
        finally:
            self.depth -= 1

    def _value(self) -> _Value:
        kind = self.peek()
        if kind == "string":
            return self.take("string")
        if kind == "[":
            return self.sequence("[", "]")
        name = self.take("ident")
        if self.peek() == "(":
            return _Call(name, self.sequence("(", ")"))
        self.take("{")
        fields: dict[str, _Value] = {}
        while self.peek() != "}":
            key = self.take("ident")
            self.take(":")
            fields[key] = self.value()
            if self.peek() != ",":
                break
            self.take(",")
        self.take("}")
        return _Object(name, fields)

    def sequence(self, opening: str, closing: str) -> list[_Value]:
        self.take(opening)
        items: list[_Value] = []
        while self.peek() != closing:
            items.append(self.value())
            if self.peek() != ",":
                break
            self.take(",")
        self.take(closing)
        return items


# --- mapping the parsed value to a Certification ----------------------------------------------------


def parse_expression(text: str) -> Certification:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CelError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    parser = _Parser(text)
    root = parser.value()
    if parser.peek() is not None:
        raise CelError(f"unexpected {parser.tokens[parser.index][1]!r} after the expression")
    if not isinstance(root, _Call) or root.name != "default_certification":
        raise CelError("the expression must be a call of default_certification(...)")
    if len(root.args) != 1:
        raise CelError("default_certification takes exactly one ValidationArgs argument")
    args = _object(root.args[0], "ValidationArgs")
    choice = _one_of(args, "ValidationArgs", "no_certification", "certification")
    if choice == "no_certification":
        _object(args.fields["no_certification"], "Empty")
        return Certification(skip=True)
    certification = _object(args.fields["certification"], "Certification")
    request_choice = _one_of(certification, "Certification", "no_request_certification", "request_certification")
    request_headers: tuple[str, ...] | None = None
    query_parameters: tuple[str, ...] = ()
    if request_choice == "request_certification":
        request = _object(certification.fields["request_certification"], "RequestCertification")
        request_headers = _strings(_field(request, "certified_request_headers"), "certified_request_headers")
        query_parameters = _strings(_field(request, "certified_query_parameters"), "certified_query_parameters")
    else:
        _object(certification.fields["no_request_certification"], "Empty")
    response = _object(_field(certification, "response_certification"), "ResponseCertification")
    response_choice = _one_of(response, "ResponseCertification", "certified_response_headers", "response_header_exclusions")
    header_list = _object(response.fields[response_choice], "ResponseHeaderList")
    return Certification(
        request_headers=request_headers,
        query_parameters=query_parameters,
        response_headers=_strings(_field(header_list, "headers"), response_choice),
        exclude_headers=response_choice == "response_header_exclusions",
    )


def _object(value: _Value, name: str) -> _Object:
    if not isinstance(value, _Object) or value.name != name:
        raise CelError(f"expected a {name}{{...}} object")
    return value


def _field(obj: _Object, name: str) -> _Value:
    if name not in obj.fields:
        raise CelError(f"{obj.name} lacks the field {name}")
    return obj.fields[name]


def _one_of(obj: _Object, what: str, first: str, second: str) -> str:
    present = [name for name in (first, second) if name in obj.fields]
    if len(present) != 1:
        raise CelError(f"{what} needs exactly one of {first} and {second}")
    return present[0]


def _strings(value: _Value, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CelError(f"{what} must be a list of strings")
    return tuple(value)
