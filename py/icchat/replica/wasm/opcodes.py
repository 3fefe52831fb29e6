"""Every WASM operator the decoder accepts: its name, immediate operands and IC cost.

Costs are the IC's static table, `instruction_to_cost` in the IC repository's
rs/embedders/src/wasm_utils/instrumentation.rs (wasm32 memory): anything the table does not name
costs 1, as there. Keys: a single-byte opcode is its byte; prefixed ones are
`prefix << 16 | sub-opcode` (0xFC misc, 0xFD SIMD).
"""

from __future__ import annotations

from enum import Enum, auto
from typing import NamedTuple


class Imm(Enum):
    NONE = auto()
    BLOCKTYPE = auto()  # s33: 0x40, a value type, or a type index
    INDEX = auto()  # one u32: label, local, global, table, memory, data or element index
    FUNC = auto()  # a function index (shifted by instrumentation)
    BR_TABLE = auto()  # vec(label) label
    CALL_INDIRECT = auto()  # type index, table index
    TWO_INDICES = auto()  # memory.init/copy, table.init/copy
    MEMARG = auto()  # alignment (bit 6: a memory index follows), offset
    MEMARG_LANE = auto()  # memarg, lane byte
    LANE = auto()  # one lane byte
    I32 = auto()
    I64 = auto()
    F32 = auto()  # 4 bytes
    F64 = auto()  # 8 bytes
    BYTES16 = auto()  # v128.const, i8x16.shuffle
    SELECT_TYPES = auto()  # vec(valtype)
    HEAPTYPE = auto()  # s33


class Op(NamedTuple):
    name: str
    imm: Imm
    cost: int


MISC = 0xFC << 16
SIMD = 0xFD << 16
OPS: dict[int, Op] = {}


def _add(key: int, name: str, imm: Imm = Imm.NONE, cost: int = 1) -> None:
    OPS[key] = Op(name, imm, cost)


# --- control -------------------------------------------------------------------------------------
_add(0x00, "unreachable")
_add(0x01, "nop")
_add(0x02, "block", Imm.BLOCKTYPE, 0)
_add(0x03, "loop", Imm.BLOCKTYPE, 0)
_add(0x04, "if", Imm.BLOCKTYPE, 2)
_add(0x05, "else", cost=0)
_add(0x0B, "end", cost=0)
_add(0x0C, "br", Imm.INDEX, 2)
_add(0x0D, "br_if", Imm.INDEX, 2)
_add(0x0E, "br_table", Imm.BR_TABLE, 2)
_add(0x0F, "return")
_add(0x10, "call", Imm.FUNC, 5)
_add(0x11, "call_indirect", Imm.CALL_INDIRECT, 10)
_add(0x12, "return_call", Imm.FUNC, 3)
_add(0x13, "return_call_indirect", Imm.CALL_INDIRECT, 60)
# --- parametric, variables, tables ---------------------------------------------------------------
_add(0x1A, "drop")
_add(0x1B, "select")
_add(0x1C, "select_t", Imm.SELECT_TYPES)
for _code, _name in ((0x20, "local.get"), (0x21, "local.set"), (0x22, "local.tee")):
    _add(_code, _name, Imm.INDEX)
_add(0x23, "global.get", Imm.INDEX, 2)
_add(0x24, "global.set", Imm.INDEX, 2)
_add(0x25, "table.get", Imm.INDEX, 5)
_add(0x26, "table.set", Imm.INDEX, 5)
# --- memory --------------------------------------------------------------------------------------
_MEMORY = [f"{t}.{op}" for t, op in (  # 0x28..0x3E, in opcode order
    ("i32", "load"), ("i64", "load"), ("f32", "load"), ("f64", "load"), ("i32", "load8_s"),
    ("i32", "load8_u"), ("i32", "load16_s"), ("i32", "load16_u"), ("i64", "load8_s"),
    ("i64", "load8_u"), ("i64", "load16_s"), ("i64", "load16_u"), ("i64", "load32_s"),
    ("i64", "load32_u"), ("i32", "store"), ("i64", "store"), ("f32", "store"), ("f64", "store"),
    ("i32", "store8"), ("i32", "store16"), ("i64", "store8"), ("i64", "store16"), ("i64", "store32"))]
for _i, _name in enumerate(_MEMORY):
    _add(0x28 + _i, _name, Imm.MEMARG)
_add(0x3F, "memory.size", Imm.INDEX, 20)
_add(0x40, "memory.grow", Imm.INDEX, 300)
_add(0x41, "i32.const", Imm.I32)
_add(0x42, "i64.const", Imm.I64)
_add(0x43, "f32.const", Imm.F32)
_add(0x44, "f64.const", Imm.F64)

# --- numeric: 0x45..0xC4, no immediates ----------------------------------------------------------
_INT_CMP = "eqz eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u".split()  # noqa: SIM905
_FLOAT_CMP = "eq ne lt gt le ge".split()  # noqa: SIM905
_INT_ARITH = [("clz", 1), ("ctz", 1), ("popcnt", 1), ("add", 1), ("sub", 1), ("mul", 1),
              ("div_s", 10), ("div_u", 10), ("rem_s", 10), ("rem_u", 10), ("and", 1), ("or", 1),
              ("xor", 1), ("shl", 1), ("shr_s", 1), ("shr_u", 1), ("rotl", 1), ("rotr", 1)]
_F32_ARITH = [("abs", 1), ("neg", 1), ("ceil", 2), ("floor", 2), ("trunc", 2), ("nearest", 2),
              ("sqrt", 5), ("add", 2), ("sub", 2), ("mul", 2), ("div", 3), ("min", 18),
              ("max", 18), ("copysign", 2)]
_F64_ARITH = [("abs", 1), ("neg", 1), ("ceil", 2), ("floor", 2), ("trunc", 2), ("nearest", 2),
              ("sqrt", 8), ("add", 2), ("sub", 2), ("mul", 2), ("div", 5), ("min", 18),
              ("max", 18), ("copysign", 3)]
_CONVERSIONS = [
    ("i32.wrap_i64", 1), ("i32.trunc_f32_s", 20), ("i32.trunc_f32_u", 20),
    ("i32.trunc_f64_s", 20), ("i32.trunc_f64_u", 20), ("i64.extend_i32_s", 1),
    ("i64.extend_i32_u", 1), ("i64.trunc_f32_s", 20), ("i64.trunc_f32_u", 20),
    ("i64.trunc_f64_s", 20), ("i64.trunc_f64_u", 20), ("f32.convert_i32_s", 3),
    ("f32.convert_i32_u", 16), ("f32.convert_i64_s", 3), ("f32.convert_i64_u", 16),
    ("f32.demote_f64", 1), ("f64.convert_i32_s", 3), ("f64.convert_i32_u", 16),
    ("f64.convert_i64_s", 3), ("f64.convert_i64_u", 16), ("f64.promote_f32", 1),
    ("i32.reinterpret_f32", 1), ("i64.reinterpret_f64", 1), ("f32.reinterpret_i32", 1),
    ("f64.reinterpret_i64", 1), ("i32.extend8_s", 1), ("i32.extend16_s", 1),
    ("i64.extend8_s", 1), ("i64.extend16_s", 1), ("i64.extend32_s", 1),
]
_numeric = (
    [(f"i32.{n}", 1) for n in _INT_CMP] + [(f"i64.{n}", 1) for n in _INT_CMP]
    + [(f"f32.{n}", 3) for n in _FLOAT_CMP] + [(f"f64.{n}", 3) for n in _FLOAT_CMP]
    + [(f"i32.{n}", c) for n, c in _INT_ARITH] + [(f"i64.{n}", c) for n, c in _INT_ARITH]
    + [(f"f32.{n}", c) for n, c in _F32_ARITH] + [(f"f64.{n}", c) for n, c in _F64_ARITH]
    + _CONVERSIONS
)
assert len(_numeric) == 0xC4 - 0x45 + 1
for _i, (_name, _cost) in enumerate(_numeric):
    _add(0x45 + _i, _name, cost=_cost)

# --- reference types -----------------------------------------------------------------------------
_add(0xD0, "ref.null", Imm.HEAPTYPE)
_add(0xD1, "ref.is_null", cost=5)
_add(0xD2, "ref.func", Imm.FUNC, 130)

# --- 0xFC: saturating truncation, bulk memory, tables --------------------------------------------
for _i, _name in enumerate(["i32.trunc_sat_f32_s", "i32.trunc_sat_f32_u", "i32.trunc_sat_f64_s",
                            "i32.trunc_sat_f64_u", "i64.trunc_sat_f32_s", "i64.trunc_sat_f32_u",
                            "i64.trunc_sat_f64_s", "i64.trunc_sat_f64_u"]):
    _add(MISC | _i, _name, cost=20)
_add(MISC | 8, "memory.init", Imm.TWO_INDICES, 100)
_add(MISC | 9, "data.drop", Imm.INDEX, 300)
_add(MISC | 10, "memory.copy", Imm.TWO_INDICES, 100)
_add(MISC | 11, "memory.fill", Imm.INDEX, 100)
_add(MISC | 12, "table.init", Imm.TWO_INDICES, 100)
_add(MISC | 13, "elem.drop", Imm.INDEX, 300)
_add(MISC | 14, "table.copy", Imm.TWO_INDICES, 100)
_add(MISC | 15, "table.grow", Imm.INDEX, 300)
_add(MISC | 16, "table.size", Imm.INDEX, 100)
_add(MISC | 17, "table.fill", Imm.INDEX, 100)

# --- 0xFD: SIMD (fixed-width SIMD proposal numbering) --------------------------------------------
_SIMD_MEMORY = {0: "v128.load", 1: "v128.load8x8_s", 2: "v128.load8x8_u", 3: "v128.load16x4_s",
                4: "v128.load16x4_u", 5: "v128.load32x2_s", 6: "v128.load32x2_u",
                7: "v128.load8_splat", 8: "v128.load16_splat", 9: "v128.load32_splat",
                10: "v128.load64_splat", 11: "v128.store", 92: "v128.load32_zero",
                93: "v128.load64_zero"}
for _sub, _name in _SIMD_MEMORY.items():
    _add(SIMD | _sub, _name, Imm.MEMARG)
for _i, _name in enumerate(["v128.load8_lane", "v128.load16_lane", "v128.load32_lane",
                            "v128.load64_lane", "v128.store8_lane", "v128.store16_lane",
                            "v128.store32_lane", "v128.store64_lane"]):
    _add(SIMD | (84 + _i), _name, Imm.MEMARG_LANE)
_add(SIMD | 12, "v128.const", Imm.BYTES16)
_add(SIMD | 13, "i8x16.shuffle", Imm.BYTES16, 3)
for _sub, _name in {21: "i8x16.extract_lane_s", 22: "i8x16.extract_lane_u",
                    23: "i8x16.replace_lane", 24: "i16x8.extract_lane_s",
                    25: "i16x8.extract_lane_u", 26: "i16x8.replace_lane",
                    27: "i32x4.extract_lane", 28: "i32x4.replace_lane", 29: "i64x2.extract_lane",
                    30: "i64x2.replace_lane", 31: "f32x4.extract_lane", 32: "f32x4.replace_lane",
                    33: "f64x2.extract_lane", 34: "f64x2.replace_lane"}.items():
    _add(SIMD | _sub, _name, Imm.LANE)

# The remaining SIMD operators take no immediates: (sub-opcode, name, IC cost).
_SIMD_PLAIN = """
14 i8x16.swizzle 1 | 15 i8x16.splat 1 | 16 i16x8.splat 1 | 17 i32x4.splat 1 | 18 i64x2.splat 1
19 f32x4.splat 1 | 20 f64x2.splat 1
35 i8x16.eq 1 | 36 i8x16.ne 1 | 37 i8x16.lt_s 1 | 38 i8x16.lt_u 2 | 39 i8x16.gt_s 1
40 i8x16.gt_u 2 | 41 i8x16.le_s 1 | 42 i8x16.le_u 1 | 43 i8x16.ge_s 1 | 44 i8x16.ge_u 1
45 i16x8.eq 1 | 46 i16x8.ne 1 | 47 i16x8.lt_s 1 | 48 i16x8.lt_u 2 | 49 i16x8.gt_s 1
50 i16x8.gt_u 2 | 51 i16x8.le_s 1 | 52 i16x8.le_u 1 | 53 i16x8.ge_s 1 | 54 i16x8.ge_u 1
55 i32x4.eq 1 | 56 i32x4.ne 1 | 57 i32x4.lt_s 1 | 58 i32x4.lt_u 2 | 59 i32x4.gt_s 1
60 i32x4.gt_u 2 | 61 i32x4.le_s 1 | 62 i32x4.le_u 1 | 63 i32x4.ge_s 1 | 64 i32x4.ge_u 1
65 f32x4.eq 1 | 66 f32x4.ne 1 | 67 f32x4.lt 1 | 68 f32x4.gt 1 | 69 f32x4.le 1 | 70 f32x4.ge 1
71 f64x2.eq 1 | 72 f64x2.ne 1 | 73 f64x2.lt 1 | 74 f64x2.gt 1 | 75 f64x2.le 1 | 76 f64x2.ge 1
77 v128.not 1 | 78 v128.and 1 | 79 v128.andnot 1 | 80 v128.or 1 | 81 v128.xor 1
82 v128.bitselect 1 | 83 v128.any_true 1
94 f32x4.demote_f64x2_zero 1 | 95 f64x2.promote_low_f32x4 1
96 i8x16.abs 1 | 97 i8x16.neg 1 | 98 i8x16.popcnt 3 | 99 i8x16.all_true 1 | 100 i8x16.bitmask 1
101 i8x16.narrow_i16x8_s 1 | 102 i8x16.narrow_i16x8_u 1 | 103 f32x4.ceil 2 | 104 f32x4.floor 2
105 f32x4.trunc 2 | 106 f32x4.nearest 2 | 107 i8x16.shl 3 | 108 i8x16.shr_s 3 | 109 i8x16.shr_u 2
110 i8x16.add 1 | 111 i8x16.add_sat_s 1 | 112 i8x16.add_sat_u 1 | 113 i8x16.sub 1
114 i8x16.sub_sat_s 1 | 115 i8x16.sub_sat_u 1 | 116 f64x2.ceil 2 | 117 f64x2.floor 2
118 i8x16.min_s 1 | 119 i8x16.min_u 1 | 120 i8x16.max_s 1 | 121 i8x16.max_u 1 | 122 f64x2.trunc 2
123 i8x16.avgr_u 1 | 124 i16x8.extadd_pairwise_i8x16_s 1 | 125 i16x8.extadd_pairwise_i8x16_u 2
126 i32x4.extadd_pairwise_i16x8_s 1 | 127 i32x4.extadd_pairwise_i16x8_u 3
128 i16x8.abs 1 | 129 i16x8.neg 1 | 130 i16x8.q15mulr_sat_s 1 | 131 i16x8.all_true 1
132 i16x8.bitmask 1 | 133 i16x8.narrow_i32x4_s 1 | 134 i16x8.narrow_i32x4_u 1
135 i16x8.extend_low_i8x16_s 1 | 136 i16x8.extend_high_i8x16_s 1 | 137 i16x8.extend_low_i8x16_u 1
138 i16x8.extend_high_i8x16_u 1 | 139 i16x8.shl 2 | 140 i16x8.shr_s 2 | 141 i16x8.shr_u 2
142 i16x8.add 1 | 143 i16x8.add_sat_s 1 | 144 i16x8.add_sat_u 1 | 145 i16x8.sub 1
146 i16x8.sub_sat_s 1 | 147 i16x8.sub_sat_u 1 | 148 f64x2.nearest 2 | 149 i16x8.mul 1
150 i16x8.min_s 1 | 151 i16x8.min_u 1 | 152 i16x8.max_s 1 | 153 i16x8.max_u 1 | 155 i16x8.avgr_u 1
156 i16x8.extmul_low_i8x16_s 1 | 157 i16x8.extmul_high_i8x16_s 2 | 158 i16x8.extmul_low_i8x16_u 1
159 i16x8.extmul_high_i8x16_u 2
160 i32x4.abs 1 | 161 i32x4.neg 1 | 163 i32x4.all_true 1 | 164 i32x4.bitmask 1
167 i32x4.extend_low_i16x8_s 1 | 168 i32x4.extend_high_i16x8_s 1 | 169 i32x4.extend_low_i16x8_u 1
170 i32x4.extend_high_i16x8_u 1 | 171 i32x4.shl 2 | 172 i32x4.shr_s 2 | 173 i32x4.shr_u 2
174 i32x4.add 1 | 177 i32x4.sub 1 | 181 i32x4.mul 2 | 182 i32x4.min_s 1 | 183 i32x4.min_u 1
184 i32x4.max_s 1 | 185 i32x4.max_u 1 | 186 i32x4.dot_i16x8_s 1 | 188 i32x4.extmul_low_i16x8_s 2
189 i32x4.extmul_high_i16x8_s 2 | 190 i32x4.extmul_low_i16x8_u 2 | 191 i32x4.extmul_high_i16x8_u 2
192 i64x2.abs 1 | 193 i64x2.neg 1 | 195 i64x2.all_true 1 | 196 i64x2.bitmask 1
199 i64x2.extend_low_i32x4_s 1 | 200 i64x2.extend_high_i32x4_s 1 | 201 i64x2.extend_low_i32x4_u 1
202 i64x2.extend_high_i32x4_u 1 | 203 i64x2.shl 2 | 204 i64x2.shr_s 3 | 205 i64x2.shr_u 2
206 i64x2.add 1 | 209 i64x2.sub 1 | 213 i64x2.mul 4 | 214 i64x2.eq 1 | 215 i64x2.ne 1
216 i64x2.lt_s 1 | 217 i64x2.gt_s 1 | 218 i64x2.le_s 1 | 219 i64x2.ge_s 1
220 i64x2.extmul_low_i32x4_s 1 | 221 i64x2.extmul_high_i32x4_s 1 | 222 i64x2.extmul_low_i32x4_u 1
223 i64x2.extmul_high_i32x4_u 1
224 f32x4.abs 2 | 225 f32x4.neg 2 | 227 f32x4.sqrt 5 | 228 f32x4.add 2 | 229 f32x4.sub 2
230 f32x4.mul 2 | 231 f32x4.div 10 | 232 f32x4.min 4 | 233 f32x4.max 4 | 234 f32x4.pmin 1
235 f32x4.pmax 1
236 f64x2.abs 2 | 237 f64x2.neg 2 | 239 f64x2.sqrt 14 | 240 f64x2.add 2 | 241 f64x2.sub 2
242 f64x2.mul 2 | 243 f64x2.div 12 | 244 f64x2.min 4 | 245 f64x2.max 5 | 246 f64x2.pmin 1
247 f64x2.pmax 1
248 i32x4.trunc_sat_f32x4_s 2 | 249 i32x4.trunc_sat_f32x4_u 4 | 250 f32x4.convert_i32x4_s 1
251 f32x4.convert_i32x4_u 4 | 252 i32x4.trunc_sat_f64x2_s_zero 2 | 253 i32x4.trunc_sat_f64x2_u_zero 3
254 f64x2.convert_low_i32x4_s 1 | 255 f64x2.convert_low_i32x4_u 1
256 i8x16.relaxed_swizzle 1 | 257 i32x4.relaxed_trunc_f32x4_s 1 | 258 i32x4.relaxed_trunc_f32x4_u 1
259 i32x4.relaxed_trunc_f64x2_s_zero 1 | 260 i32x4.relaxed_trunc_f64x2_u_zero 1
261 f32x4.relaxed_madd 1 | 262 f32x4.relaxed_nmadd 1 | 263 f64x2.relaxed_madd 1
264 f64x2.relaxed_nmadd 1 | 265 i8x16.relaxed_laneselect 1 | 266 i16x8.relaxed_laneselect 1
267 i32x4.relaxed_laneselect 1 | 268 i64x2.relaxed_laneselect 1 | 269 f32x4.relaxed_min 1
270 f32x4.relaxed_max 1 | 271 f64x2.relaxed_min 1 | 272 f64x2.relaxed_max 1
273 i16x8.relaxed_q15mulr_s 1 | 274 i16x8.relaxed_dot_i8x16_i7x16_s 1
275 i32x4.relaxed_dot_i8x16_i7x16_add_s 1
"""
for _entry in _SIMD_PLAIN.replace("\n", "|").split("|"):
    if _entry.strip():
        _sub, _name, _cost = _entry.split()
        _add(SIMD | int(_sub), _name, cost=int(_cost))

# Control-flow operators that end the current basic block for metering.
LOOP, IF, ELSE, END = 0x03, 0x04, 0x05, 0x0B
BRANCHES = frozenset({0x0C, 0x0D, 0x0E})  # br, br_if, br_table
EXITS = frozenset({0x00, 0x0F, 0x12, 0x13})  # unreachable, return, return_call(_indirect)
BULK_SIZED = frozenset({MISC | 8, MISC | 10, MISC | 11, MISC | 12, MISC | 14, MISC | 17})
MEMORY_GROW = 0x40
