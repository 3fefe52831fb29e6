"""The IC's instruction-metering rewrite of a canister module.

Follows rs/embedders/src/wasm_utils/instrumentation.rs (wasm32, without wasm-native stable memory):

- imports `__.out_of_instructions: [] -> []` and `__.try_grow_wasm_memory: [i32 i32] -> [i32]`
  are prepended (every function index shifts by 2);
- an i64 counter global is appended and exported as `canister counter_instructions`; the host
  sets it to the message's limit and reads `limit - counter` afterwards;
- at the start of every basic block the counter drops by the static cost of the block's
  operators; at reentrant blocks (function entries, loop bodies) it is then checked, and
  `out_of_instructions` is called when it went negative;
- before each bulk memory operation an appended helper subtracts its byte count at run time;
- after each `memory.grow` `try_grow_wasm_memory(result, pages)` lets the host apply the
  canister's memory limit;
- mutable globals that are not exported are exported as `__persistent_mutable_global_<i>` so
  the host can snapshot and persist them; the start function is exported as `canister_start`
  (the host runs it once the counter is set) and the start section removed; the table and the
  memory are exported as `table` and `memory`; the `name` section is dropped (its indices would
  be stale).
"""

from __future__ import annotations

from dataclasses import dataclass

from icchat.replica.wasm import opcodes
from icchat.replica.wasm.code import Instruction
from icchat.replica.wasm.module import (
    CODE,
    CUSTOM,
    ELEMENT,
    EXPORT,
    FUNCTION,
    GLOBAL,
    I32,
    I64,
    IMPORT,
    KIND_FUNC,
    KIND_GLOBAL,
    KIND_MEMORY,
    KIND_TABLE,
    MEMORY,
    START,
    TABLE,
    TYPE,
    Export,
    FuncType,
    Import,
    Module,
)
from icchat.replica.wasm.reader import Reader, sleb, uleb, vec

COUNTER_EXPORT = "canister counter_instructions"
START_EXPORT = "canister_start"
PERSISTENT_GLOBAL = "__persistent_mutable_global_{}"
HELPER_MODULE = "__"
OUT_OF_INSTRUCTIONS, TRY_GROW_WASM_MEMORY = 0, 1  # function indices of the injected imports
INJECTED_IMPORTS = 2
I64_MIN = -(1 << 63)

REENTRANT, NON_REENTRANT, BLOCK_END = range(3)


@dataclass
class Instrumented:
    wasm: bytes
    persistent_globals: list[str]  # export names of every mutable global of the canister
    start_export: str | None  # set if the module had a start function
    functions: int  # defined functions instrumented


@dataclass
class _Point:
    position: int  # instruction index the injected code goes before
    scope: int  # REENTRANT / NON_REENTRANT / BLOCK_END, or -1 for a dynamic (bulk) charge
    cost: int = 0


def instrument(wasm: bytes) -> Instrumented:
    m = Module.decode(wasm)
    ooi_type = _add_type(m, FuncType((), ()))
    grow_type = _add_type(m, FuncType((I32, I32), (I32,)))
    decr_type = _add_type(m, FuncType((I64,), (I64,)))
    shift = INJECTED_IMPORTS
    m.imports[:0] = [Import(HELPER_MODULE, "out_of_instructions", KIND_FUNC, uleb(ooi_type), ooi_type),
                     Import(HELPER_MODULE, "try_grow_wasm_memory", KIND_FUNC, uleb(grow_type), grow_type)]
    counter = m.imported_globals + len(m.globals)
    decr_fn = m.imported_functions + len(m.functions)

    exports = [Export(e.name, e.kind, e.index + shift if e.kind == KIND_FUNC else e.index)
               for e in m.exports]
    _export_as(m, exports, KIND_TABLE, TABLE, "table")
    _export_as(m, exports, KIND_MEMORY, MEMORY, "memory")
    persistent = _export_mutable_globals(m, exports)
    start_export = None
    if m.start is not None:
        exports.append(Export(START_EXPORT, KIND_FUNC, m.start + shift))
        start_export = START_EXPORT
        m.set_section(START, None)
    exports.append(Export(COUNTER_EXPORT, KIND_GLOBAL, counter))

    bodies = []
    for i, type_index in enumerate(m.functions):
        params = len(m.types[type_index].params)
        bodies.append(_instrument_body(m, i, params, shift, counter, decr_fn))
    bodies.append(_decrement_function(counter))
    m.functions.append(decr_type)

    m.set_section(TYPE, m.encode_types())
    m.set_section(IMPORT, m.encode_imports())
    m.set_section(FUNCTION, m.encode_functions())
    m.set_section(GLOBAL, _encode_globals(m, shift))
    m.exports = exports
    m.set_section(EXPORT, m.encode_exports())
    if m.elements:
        m.set_section(ELEMENT, vec([_encode_element(m, e, shift) for e in m.elements]))
    m.set_section(CODE, vec([uleb(len(b)) + b for b in bodies]))
    m.sections = [s for s in m.sections if not (s.id == CUSTOM and _custom_name(m, s) == "name")]
    return Instrumented(m.encode(), persistent, start_export, len(bodies) - 1)


# -- module-level edits -----------------------------------------------------------------------


def _add_type(m: Module, t: FuncType) -> int:
    if t in m.types:
        return m.types.index(t)
    m.types.append(t)
    return len(m.types) - 1


def _count_in_section(m: Module, section_id: int) -> int:
    section = m.section(section_id)
    return Reader(m.data, section.start, section.end).u32() if section else 0


def _export_as(m: Module, exports: list[Export], kind: int, section_id: int, name: str) -> None:
    """Export index 0 of a table/memory under the IC's fixed name (renaming an existing export)."""
    existing = [e for e in exports if e.kind == kind]
    for e in existing:
        e.name = name
    defined = _count_in_section(m, section_id) + sum(1 for i in m.imports if i.kind == kind)
    if not existing and defined:
        exports.append(Export(name, kind, 0))


def _export_mutable_globals(m: Module, exports: list[Export]) -> list[str]:
    exported = {e.index for e in exports if e.kind == KIND_GLOBAL}
    names = []
    first = m.imported_globals
    for i, g in enumerate(m.globals):
        if g.mutable and first + i not in exported:
            exports.append(Export(PERSISTENT_GLOBAL.format(i), KIND_GLOBAL, first + i))
    for e in exports:
        index = e.index - first
        if e.kind == KIND_GLOBAL and 0 <= index < len(m.globals) and m.globals[index].mutable:
            names.append(e.name)
    return names


def _encode_globals(m: Module, shift: int) -> bytes:
    encoded = []
    for g in m.globals:
        if any(ins.func >= 0 for ins in g.init):
            encoded.append(bytes((g.valtype, int(g.mutable))) + _copy(m.data, g.init, shift))
        else:
            encoded.append(g.raw)
    encoded.append(bytes((I64, 1, 0x42, 0x00, 0x0B)))  # the counter: (mut i64) (i64.const 0)
    return vec(encoded)


def _encode_element(m: Module, element, shift: int) -> bytes:
    if element.functions is not None:
        return element.prefix + vec([uleb(f + shift) for f in element.functions])
    return element.prefix + vec([_copy(m.data, expr, shift) for expr in element.exprs])


def _custom_name(m: Module, section) -> str | None:
    try:
        return Reader(m.data, section.start, section.end).name()
    except ValueError:
        return None


# -- function bodies --------------------------------------------------------------------------


def _copy(data: bytes, instructions: list[Instruction], shift: int) -> bytes:
    """Original bytes of instructions, with function index operands shifted."""
    out = bytearray()
    for ins in instructions:
        if ins.func >= 0:
            out.append(ins.key)  # call, return_call and ref.func are single-byte opcodes
            out += uleb(ins.func + shift)
        else:
            out += data[ins.start : ins.end]
    return bytes(out)


def _injection_points(instructions: list[Instruction]) -> list[_Point]:
    """The IC's `injections`: a point at each basic block start and before each bulk op."""
    costs = opcodes.OPS
    points: list[_Point] = []
    current = _Point(0, REENTRANT, 1)  # a function is reentrant; even an empty one costs 1
    for position, ins in enumerate(instructions):
        key = ins.key
        current.cost += costs[key].cost
        if key == opcodes.LOOP:
            points.append(current)
            current = _Point(position + 1, REENTRANT)
        elif key == opcodes.IF:
            points.append(current)
            current = _Point(position + 1, NON_REENTRANT)
        elif key in opcodes.BRANCHES or key == opcodes.ELSE or key == opcodes.END \
                or key in opcodes.EXITS:
            points.append(current)
            current = _Point(position + 1, BLOCK_END)
        elif key in opcodes.BULK_SIZED:
            points.append(_Point(position, -1))
    points.sort(key=lambda p: p.position)  # stable, like the IC's sort_by_key
    return [p for p in points if p.scope in (REENTRANT, -1) or p.cost > 0]


def _instrument_body(m: Module, index: int, params: int, shift: int, counter: int,
                     decr_fn: int) -> bytes:
    body = m.body(index)
    instructions = body.instructions
    data = m.data
    locals_ = list(body.locals)
    grow_local = -1
    if any(ins.key == opcodes.MEMORY_GROW for ins in instructions):
        grow_local = params + body.local_count
        locals_.append((1, I32))

    get_counter = b"\x23" + uleb(counter)
    set_counter = b"\x24" + uleb(counter)
    check = get_counter + b"\x42\x00\x53\x04\x40\x10" + uleb(OUT_OF_INSTRUCTIONS) + b"\x0b"
    dynamic = b"\xad\x10" + uleb(decr_fn) + b"\xa7"  # i64.extend_i32_u; call; i32.wrap_i64

    out = bytearray(vec([uleb(n) + bytes((t,)) for n, t in locals_]))
    points = _injection_points(instructions)
    p = 0
    for position, ins in enumerate(instructions):
        while p < len(points) and points[p].position == position:
            point = points[p]
            if point.scope == -1:
                out += dynamic
            else:
                out += get_counter + b"\x42" + sleb(point.cost) + b"\x7d" + set_counter
                if point.scope == REENTRANT:
                    out += check
            p += 1
        if ins.func >= 0:
            out.append(ins.key)
            out += uleb(ins.func + shift)
        elif ins.key == opcodes.MEMORY_GROW:
            tee, get = b"\x22" + uleb(grow_local), b"\x20" + uleb(grow_local)
            out += tee + data[ins.start : ins.end] + get + b"\x10" + uleb(TRY_GROW_WASM_MEMORY)
        else:
            out += data[ins.start : ins.end]
    return bytes(out)


def _decrement_function(counter: int) -> bytes:
    """(i64) -> i64: subtract the argument from the counter (saturating at i64::MIN), call
    out_of_instructions if it went negative, return the argument."""
    get, set_ = b"\x23" + uleb(counter), b"\x24" + uleb(counter)
    code = (get + b"\x20\x00\x7d\x22\x01" + get + b"\x55"  # new = counter - n; new > old?
            + b"\x04\x7e\x42" + sleb(I64_MIN) + b"\x05\x20\x01\x0b" + set_
            + get + b"\x42\x00\x53\x04\x40\x10" + uleb(OUT_OF_INSTRUCTIONS) + b"\x0b"
            + b"\x20\x00\x0b")
    return vec([b"\x01\x7e"]) + code
