"""Function bodies: locals, then instructions as (key, start, end, function index) spans.

Spans point into the module's bytes, so unchanged instructions are copied, never re-encoded;
only function indices (call, return_call, ref.func) are kept decoded because instrumentation
shifts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from icchat.replica.wasm.opcodes import MISC, OPS, SIMD, Imm
from icchat.replica.wasm.reader import Reader, WasmDecodeError

MAX_LOCALS = 50_000  # wasmparser's limit; beyond it no engine would accept the body either


@dataclass(slots=True)
class Instruction:
    key: int
    start: int
    end: int
    func: int = -1  # function index operand, for FUNC immediates


@dataclass
class Body:
    locals: list[tuple[int, int]]  # (count, valtype byte)
    code_start: int  # offset of the first instruction
    instructions: list[Instruction]

    @property
    def local_count(self) -> int:
        return sum(n for n, _ in self.locals)


def decode_body(data: bytes | memoryview, start: int, end: int) -> Body:
    r = Reader(data, start, end)
    locals_: list[tuple[int, int]] = []
    total = 0
    for _ in range(r.u32()):
        n, valtype = r.u32(), r.byte()
        total += n
        if total > MAX_LOCALS:
            raise r.error(f"too many locals ({total})")
        locals_.append((n, valtype))
    code_start = r.pos
    return Body(locals_, code_start, decode_instructions(r))


def decode_instructions(r: Reader) -> list[Instruction]:
    """Instructions up to and including the `end` that closes the body (or a const expr)."""
    out: list[Instruction] = []
    depth = 0
    ops = OPS
    while True:
        start = r.pos
        code = r.byte()
        key = code
        if code == 0xFC:
            key = MISC | r.u32()
        elif code == 0xFD:
            key = SIMD | r.u32()
        op = ops.get(key)
        if op is None:
            raise WasmDecodeError(f"unknown or unsupported opcode {_show(key)} at byte {start}")
        imm = op.imm
        func = -1
        if imm is Imm.NONE:
            pass
        elif imm is Imm.INDEX:
            r.u32()
        elif imm is Imm.MEMARG:
            _memarg(r)
        elif imm is Imm.I32:
            r.s32()
        elif imm is Imm.BLOCKTYPE:
            r.s33()
        elif imm is Imm.FUNC:
            func = r.u32()
        elif imm is Imm.I64:
            r.s64()
        elif imm is Imm.F32:
            r.skip(4)
        elif imm is Imm.F64:
            r.skip(8)
        elif imm is Imm.BYTES16:
            r.skip(16)
        elif imm is Imm.LANE:
            r.skip(1)
        elif imm is Imm.MEMARG_LANE:
            _memarg(r)
            r.skip(1)
        elif imm is Imm.CALL_INDIRECT or imm is Imm.TWO_INDICES:
            r.u32()
            r.u32()
        elif imm is Imm.BR_TABLE:
            for _ in range(r.u32() + 1):
                r.u32()
        elif imm is Imm.SELECT_TYPES:
            r.skip(r.u32())
        elif imm is Imm.HEAPTYPE:
            r.s33()
        out.append(Instruction(key, start, r.pos, func))
        if code in (0x02, 0x03, 0x04):  # block, loop, if
            depth += 1
        elif code == 0x0B:
            if depth == 0:
                return out
            depth -= 1


def _memarg(r: Reader) -> None:
    align = r.u32()
    if align & 0x40:  # multi-memory: a memory index follows
        r.u32()
    r.u64()


def _show(key: int) -> str:
    if key >> 16:
        return f"0x{key >> 16:02X} {key & 0xFFFF}"
    return f"0x{key:02X}"
