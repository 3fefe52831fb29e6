"""The official Candid conformance suite (tests/ic/data/candid/*.test.did) against our codec.

Every `assert` in those files becomes one test: binary inputs are decoded with
`candid.decode`, textual ones parsed with `candid.parse_args`, both at the asserted types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from icchat.ic import candid
from icchat.ic.idl.syntax import Parser

DATA = Path(__file__).parent / "data" / "candid"


@dataclass
class Case:
    file: str
    line: int
    left: tuple[str, object]
    op: str  # "ok", "fail", "eq", "ne"
    right: tuple[str, object] | None
    types: list[candid.Type]
    desc: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}:{self.desc or self.op}"


def _input(p: Parser) -> tuple[str, object]:
    if p.at_keyword("blob"):
        p.next()
        return ("blob", p.text_literal())
    return ("text", p.string())


def load_cases(path: Path) -> list[Case]:
    src = path.read_text(encoding="utf-8")
    p = Parser(src)
    while p.at_keyword("type"):
        p.definition()
    cases = []
    while not p.at_eof():
        line = src.count("\n", 0, p.peek().pos) + 1
        p.expect_keyword("assert")
        left, right = _input(p), None
        if p.accept_sym(":"):
            op = "ok"
        elif p.accept_sym("!:"):
            op = "fail"
        else:
            op = "eq" if p.accept_sym("==") else (p.expect_sym("!=") or "ne")
            right = _input(p)
            p.expect_sym(":")
        types = p.tuple_type()
        desc = p.string() if p.at("text") else ""
        p.expect_sym(";")
        cases.append(Case(path.name, line, left, op, right, types, desc))
    p.finish()
    return cases


def evaluate(inp: tuple[str, object], types: list[candid.Type]) -> list:
    kind, data = inp
    if kind == "blob":
        return candid.decode(data, types)
    return candid.parse_args(data, types)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


CASES = [case for path in sorted(DATA.glob("*.test.did")) for case in load_cases(path)]


def test_the_suite_is_all_there():
    files = {c.file for c in CASES}
    assert files == {"prim.test.did", "construct.test.did", "reference.test.did",
                     "subtypes.test.did", "overshoot.test.did", "spacebomb.test.did"}
    assert len(CASES) > 350


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_conformance(case: Case):
    if case.op == "fail":
        with pytest.raises(candid.CandidError):
            evaluate(case.left, case.types)
        return
    left = evaluate(case.left, case.types)
    if case.op == "ok":
        return
    right = evaluate(case.right, case.types)
    equal = len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    assert equal == (case.op == "eq"), (left, right)
