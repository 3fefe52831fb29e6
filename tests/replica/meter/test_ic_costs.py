"""Hand-computed IC costs of small canisters, checked through the real instrumentation.

Costs come from the IC's `instruction_to_cost` table (rs/embedders/src/wasm_utils/
instrumentation.rs): block/loop/end/else 0, constants/locals/integer ops/loads/stores 1,
global.get/set 2, if/br/br_if 2, call 5, call_indirect 10, integer div/rem 10, f32.add/mul 2,
f32.div 3, f32.min 18, f32x4.add/mul 2, v128.load 1, i32x4.dot_i16x8_s 1, memory.grow 300,
memory.copy/fill 100 + the byte count at run time. Every function entry also costs 1. There is
no other fixed per-message overhead: the figures below are exact.
"""

from __future__ import annotations

import pytest
import wasmtime

from icchat.replica.meter import OutOfInstructions, system_api_cost


def test_empty_function_costs_one(load):
    run = load('(module (func (export "f")))')
    assert run.call("f") == 1


def test_integer_loop(load):
    run = load("""(module (func (export "f") (param $n i32) (local $i i32)
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))""")
    # entry: 1 (function) + loop 0. Loop body: local.get 1 + i32.const 1 + i32.add 1 +
    # local.set 1 + local.get 1 + local.get 1 + i32.lt_u 1 + br_if 2 = 9 per iteration.
    for n in (1, 10, 1000):
        assert run.call("f", n) == 1 + 9 * n


def test_division_globals_and_if_else(load):
    run = load("""(module (global $g (mut i32) (i32.const 7))
      (func (export "f") (param $x i32) (result i32)
        (if (result i32) (local.get $x)
          (then (i32.div_u (global.get $g) (local.get $x)))
          (else (global.set $g (i32.const 1)) (i32.const 0)))))""")
    # before the if: 1 + local.get 1 + if 2 = 4.
    # then: global.get 2 + local.get 1 + i32.div_u 10 = 13;  else: i32.const 1 + global.set 2 + i32.const 1 = 4
    assert run.call("f", 3) == 4 + 13
    assert run.call("f", 0) == 4 + 4


def test_float_costs(load):
    run = load("""(module (func (export "f") (param $a f32) (param $b f32) (result f32)
      (f32.min (f32.div (f32.mul (f32.add (local.get $a) (local.get $b)) (local.get $a))
                        (local.get $b)) (local.get $a))))""")
    # 1 + 5 local.get + f32.add 2 + f32.mul 2 + f32.div 3 + f32.min 18
    assert run.call("f", 1.0, 2.0) == 1 + 5 + 2 + 2 + 3 + 18


def test_simd_dot_product_loop(load):
    run = load("""(module (memory 1)
      (func (export "f") (param $n i32) (result i32) (local $i i32) (local $acc v128)
        (loop $l
          (local.set $acc (f32x4.add (local.get $acc)
            (f32x4.mul (v128.load (local.get $i)) (v128.load offset=1024 (local.get $i)))))
          (local.set $acc (i32x4.add (local.get $acc)
            (i32x4.dot_i16x8_s (v128.load (local.get $i)) (local.get $acc))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        (i32x4.extract_lane 0 (local.get $acc))))""")
    # loop body: local.get, local.get, v128.load, local.get, v128.load, f32x4.mul 2, f32x4.add 2,
    #   local.set -> 1+1+1+1+1+2+2+1 = 10
    #   local.get, local.get, v128.load, local.get, dot 1, i32x4.add 1, local.set -> 7
    #   local.get, i32.const, i32.add, local.set -> 4;  local.get, local.get, lt_u, br_if 2 -> 5
    per_iteration = 10 + 7 + 4 + 5
    # after the loop: local.get 1 + extract_lane 1 (a block that starts after `end`)
    for n in (16, 160):
        assert run.call("f", n) == 1 + per_iteration * (n // 16) + 2


def test_calls_and_call_indirect(load):
    run = load("""(module (type $t (func (result i32)))
      (table 1 funcref) (elem (i32.const 0) $leaf)
      (func $leaf (result i32) (i32.const 42))
      (func (export "f") (result i32)
        (i32.add (call $leaf) (call_indirect (type $t) (i32.const 0)))))""")
    # f: 1 + call 5 + i32.const 1 + call_indirect 10 + i32.add 1 = 18; leaf twice: 2 * (1 + 1)
    assert run.call("f") == 18 + 2 * 2


def test_bulk_memory_charges_its_size(load):
    run = load("""(module (memory 1)
      (func (export "copy") (param $n i32) (memory.copy (i32.const 0) (i32.const 4096) (local.get $n)))
      (func (export "fill") (param $n i32) (memory.fill (i32.const 0) (i32.const 7) (local.get $n))))""")
    # 1 + i32.const 1 + i32.const 1 + local.get 1 + memory.copy 100, plus n at run time
    for n in (0, 100, 4000):
        assert run.call("copy", n) == 104 + n
        assert run.call("fill", n) == 104 + n


def test_memory_grow(load):
    grows = []
    run = load("""(module (memory 1)
      (func (export "f") (result i32) (memory.grow (i32.const 2))))""")
    run.meter.on_memory_grow = lambda result, pages: grows.append((result, pages))
    # 1 + i32.const 1 + memory.grow 300; the injected try_grow_wasm_memory call is free
    assert run.call("f") == 302
    assert grows == [(1, 2)]


def test_system_api_call_charges_overhead_and_bytes(load):
    size_seen = []

    def arg_copy(meter, dst, offset, size):
        size_seen.append(size)
        meter.charge_system_api("msg_arg_data_copy", size)

    i32 = wasmtime.ValType.i32()
    host = {("ic0", "msg_arg_data_copy"): (wasmtime.FuncType([i32, i32, i32], []), arg_copy)}
    run = load("""(module (import "ic0" "msg_arg_data_copy" (func $copy (param i32 i32 i32)))
      (memory 1) (func (export "f") (call $copy (i32.const 0) (i32.const 0) (i32.const 1024))))""",
               host)
    # the IC's own test: 1 + 3 consts + call 5 + MSG_ARG_DATA_COPY overhead (500) + 1 per byte
    assert run.call("f") == 1 + 3 + 5 + 500 + 1024
    assert system_api_cost("msg_reply_data_append", 10) == 500 + 50 * 10
    assert size_seen == [1024]


def test_performance_counter_sees_the_count_so_far(load):
    seen = []
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()

    def counter(meter, kind):
        meter.charge_system_api("performance_counter")
        seen.append(meter.used())
        return meter.used()

    host = {("ic0", "performance_counter"): (wasmtime.FuncType([i32], [i64]), counter)}
    run = load("""(module (import "ic0" "performance_counter" (func $pc (param i32) (result i64)))
      (func (export "f") (result i64) (drop (call $pc (i32.const 0))) (call $pc (i32.const 0))))""",
               host)
    # Blocks are charged on entry, so the whole straight-line body (1 + const + call + drop +
    # const + call = 1+1+5+1+1+5 = 14) is counted before the first call; then 200 per call.
    total = run.call("f")
    assert seen == [14 + 200, 14 + 400]
    assert total == 14 + 400


def test_limit_traps_within_one_block(load):
    run = load("""(module (func (export "spin") (local $i i32)
      (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))))""")
    # per iteration: local.get 1 + i32.const 1 + i32.add 1 + local.set 1 + br 2 = 6
    for limit in (100, 10_000, 1_000_003):
        with pytest.raises(OutOfInstructions, match=f"limit of {limit} instructions"):
            run.call("spin", limit=limit)
        assert limit < run.meter.used() <= limit + 6


def test_host_charge_past_the_limit_raises(load):
    run = load('(module (func (export "f")))')
    run.meter.begin(1000)
    run.meter.charge(999)
    with pytest.raises(OutOfInstructions):
        run.meter.charge(2)
