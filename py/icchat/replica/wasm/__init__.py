"""WebAssembly binary decoding, re-encoding and the IC's instruction-metering instrumentation.

- `reader`       bounds-checked byte reader (LEB128), every failure a `WasmDecodeError`
- `opcodes`      every operator our canisters can contain: immediates and IC cost
- `module`       section-level decode/encode of a module (round-trips byte for byte)
- `code`         function bodies as instruction spans
- `instrument`   the IC's rewrite: counter global, per-block decrements, loop checks, bulk charges
"""
