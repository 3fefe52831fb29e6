"""Section-level decoding and encoding of a WASM module.

`Module.decode` splits a binary into sections and parses the ones instrumentation touches (types,
imports, functions, globals, exports, start, elements, code); `Module.encode` writes every section
back, re-encoding only what was changed, so decode → encode returns the input byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from icchat.replica.wasm.code import Body, Instruction, decode_body, decode_instructions
from icchat.replica.wasm.reader import Reader, WasmDecodeError, name, uleb, vec

MAGIC = b"\0asm\x01\0\0\0"
CUSTOM, TYPE, IMPORT, FUNCTION, TABLE, MEMORY, GLOBAL, EXPORT, START, ELEMENT, CODE, DATA, \
    DATACOUNT, TAG = range(14)
# Order in which non-custom sections must appear (datacount sits before code).
SECTION_ORDER = [TYPE, IMPORT, FUNCTION, TABLE, MEMORY, TAG, GLOBAL, EXPORT, START, ELEMENT,
                 DATACOUNT, CODE, DATA]
KIND_FUNC, KIND_TABLE, KIND_MEMORY, KIND_GLOBAL, KIND_TAG = range(5)
KIND_NAMES = {KIND_FUNC: "func", KIND_TABLE: "table", KIND_MEMORY: "memory",
              KIND_GLOBAL: "global", KIND_TAG: "tag"}
VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref",
            0x6F: "externref"}
I32, I64 = 0x7F, 0x7E
MAX_COUNT = 1_000_000  # no section of a canister module comes near this


@dataclass(frozen=True)
class FuncType:
    params: tuple[int, ...]
    results: tuple[int, ...]

    def encode(self) -> bytes:
        return b"\x60" + uleb(len(self.params)) + bytes(self.params) + uleb(len(self.results)) + bytes(self.results)


@dataclass
class Import:
    module: str
    name: str
    kind: int
    desc: bytes  # the raw import description after the kind byte
    type_index: int = -1  # for functions

    def encode(self) -> bytes:
        return name(self.module) + name(self.name) + bytes((self.kind,)) + self.desc


@dataclass
class Global:
    valtype: int
    mutable: bool
    init: list[Instruction]
    raw: bytes  # valtype, mutability and init expression as in the input


@dataclass
class Export:
    name: str
    kind: int
    index: int

    def encode(self) -> bytes:
        return name(self.name) + bytes((self.kind,)) + uleb(self.index)


@dataclass
class Element:
    prefix: bytes  # flags, table index, offset expression, element kind: as in the input
    functions: list[int] | None  # forms 0-3: function indices
    exprs: list[list[Instruction]] | None  # forms 4-7: constant expressions


@dataclass
class Section:
    id: int
    start: int  # payload offsets in Module.data (for sections read from the input)
    end: int
    replacement: bytes | None = None  # new payload, when instrumentation changed the section


@dataclass
class Module:
    data: bytes
    sections: list[Section]
    types: list[FuncType] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    functions: list[int] = field(default_factory=list)  # type index of each defined function
    globals: list[Global] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    start: int | None = None
    elements: list[Element] = field(default_factory=list)
    code: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each body

    # -- decoding -----------------------------------------------------------------------------

    @classmethod
    def decode(cls, data: bytes) -> Module:
        if not data.startswith(MAGIC):
            raise WasmDecodeError("not a WebAssembly module (bad magic or version)")
        r = Reader(data, len(MAGIC))
        sections: list[Section] = []
        last = -1
        while not r.at_end():
            section_id = r.byte()
            size = r.u32()
            start = r.pos
            r.skip(size)
            if section_id != CUSTOM:
                if section_id not in SECTION_ORDER:
                    raise WasmDecodeError(f"unknown section id {section_id}")
                rank = SECTION_ORDER.index(section_id)
                if rank <= last:
                    raise WasmDecodeError(f"section {section_id} out of order or duplicated")
                last = rank
            sections.append(Section(section_id, start, start + size))
        module = cls(data, sections)
        for section in sections:
            module._parse(section)
        if len(module.functions) != len(module.code):
            raise WasmDecodeError(
                f"{len(module.functions)} functions declared but {len(module.code)} bodies")
        type_indices = [*module.functions, *(i.type_index for i in module.imports if i.kind == KIND_FUNC)]
        if any(not 0 <= t < len(module.types) for t in type_indices):
            raise WasmDecodeError("a function refers to a type index out of range")
        return module

    def _parse(self, section: Section) -> None:
        r = Reader(self.data, section.start, section.end)
        sid = section.id
        if sid == TYPE:
            for _ in range(_count(r)):
                if r.byte() != 0x60:
                    raise r.error("only function types are supported (no GC types)")
                params = tuple(r.byte() for _ in range(_count(r)))
                results = tuple(r.byte() for _ in range(_count(r)))
                self.types.append(FuncType(params, results))
        elif sid == IMPORT:
            for _ in range(_count(r)):
                module, field_name, kind = r.name(), r.name(), r.byte()
                desc_start = r.pos
                type_index = -1
                if kind == KIND_FUNC:
                    type_index = r.u32()
                elif kind == KIND_TABLE:
                    r.byte()
                    _limits(r)
                elif kind == KIND_MEMORY:
                    _limits(r)
                elif kind == KIND_GLOBAL:
                    r.byte()
                    r.byte()
                elif kind == KIND_TAG:
                    r.byte()
                    r.u32()
                else:
                    raise r.error(f"unknown import kind {kind}")
                self.imports.append(Import(module, field_name, kind, bytes(self.data[desc_start:r.pos]), type_index))
        elif sid == FUNCTION:
            self.functions = [r.u32() for _ in range(_count(r))]
        elif sid == GLOBAL:
            for _ in range(_count(r)):
                start = r.pos
                valtype, mutability = r.byte(), r.byte()
                init = decode_instructions(r)
                self.globals.append(Global(valtype, mutability == 1, init, bytes(self.data[start:r.pos])))
        elif sid == EXPORT:
            for _ in range(_count(r)):
                self.exports.append(Export(r.name(), r.byte(), r.u32()))
        elif sid == START:
            self.start = r.u32()
        elif sid == ELEMENT:
            for _ in range(_count(r)):
                self.elements.append(_element(r))
        elif sid == CODE:
            for _ in range(_count(r)):
                size = r.u32()
                self.code.append((r.pos, r.pos + size))
                r.skip(size)
        else:
            return
        if not r.at_end():
            raise r.error(f"section {sid} has trailing bytes")

    # -- queries ------------------------------------------------------------------------------

    @property
    def imported_functions(self) -> int:
        return sum(1 for i in self.imports if i.kind == KIND_FUNC)

    @property
    def imported_globals(self) -> int:
        return sum(1 for i in self.imports if i.kind == KIND_GLOBAL)

    def function_type(self, index: int) -> FuncType:
        """Type of a function in the function index space (imports first)."""
        imported = [i for i in self.imports if i.kind == KIND_FUNC]
        if index < len(imported):
            return self.types[imported[index].type_index]
        return self.types[self.functions[index - len(imported)]]

    def body(self, i: int) -> Body:
        start, end = self.code[i]
        return decode_body(self.data, start, end)

    def section(self, section_id: int) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)

    # -- encoding -----------------------------------------------------------------------------

    def set_section(self, section_id: int, payload: bytes | None) -> None:
        """Replace (or, with None, remove) a section, inserting it in the right place if new."""
        existing = self.section(section_id)
        if payload is None:
            if existing is not None:
                self.sections.remove(existing)
            return
        if existing is not None:
            existing.replacement = payload
            return
        rank = SECTION_ORDER.index(section_id)
        position = len(self.sections)
        for i, s in enumerate(self.sections):
            if s.id != CUSTOM and SECTION_ORDER.index(s.id) > rank:
                position = i
                break
        self.sections.insert(position, Section(section_id, 0, 0, payload))

    def encode(self) -> bytes:
        parts = [MAGIC]
        for s in self.sections:
            payload = s.replacement if s.replacement is not None else self.data[s.start : s.end]
            parts.append(bytes((s.id,)) + uleb(len(payload)))
            parts.append(payload)
        return b"".join(parts)

    def encode_types(self) -> bytes:
        return vec([t.encode() for t in self.types])

    def encode_imports(self) -> bytes:
        return vec([i.encode() for i in self.imports])

    def encode_functions(self) -> bytes:
        return vec([uleb(t) for t in self.functions])

    def encode_exports(self) -> bytes:
        return vec([e.encode() for e in self.exports])


def _count(r: Reader) -> int:
    n = r.u32()
    if n > MAX_COUNT or n > r.end - r.pos:
        raise r.error(f"vector length {n} exceeds the section")
    return n


def _limits(r: Reader) -> None:
    flags = r.byte()
    if flags & 0x04:  # memory64
        r.u64()
        if flags & 0x01:
            r.u64()
    else:
        r.u32()
        if flags & 0x01:
            r.u32()


def _element(r: Reader) -> Element:
    start = r.pos
    flags = r.u32()
    if flags > 7:
        raise r.error(f"unknown element segment form {flags}")
    if flags & 0x02 and not flags & 0x01:  # explicit table index
        r.u32()
    if not flags & 0x01:  # active: offset expression
        decode_instructions(r)
    if flags & 0x03:  # element kind (forms 1-3) or reference type (forms 5-7)
        r.byte()
    prefix = bytes(r.data[start : r.pos])
    n = _count(r)
    if flags & 0x04:
        return Element(prefix, None, [decode_instructions(r) for _ in range(n)])
    return Element(prefix, [r.u32() for _ in range(n)], None)
