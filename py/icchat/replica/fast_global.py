"""Reading and writing an i32/i64 WASM global through wasmtime's C API with one preallocated value.

`wasmtime.Global.set_value` looks the global's type up and converts the value on every call
(~60 µs; `value` ~12 µs), and the replica touches globals several times per message (the
instruction counter on every System API call, the persistent globals around every execution).
Same globals, same values; only the Python overhead goes (~4-6 µs a call).
"""

from __future__ import annotations

import ctypes

import wasmtime


class FastGlobal:
    def __init__(self, global_: wasmtime.Global, store: wasmtime.Store, kind: int) -> None:
        from wasmtime import _ffi  # the pinned wasmtime's own bindings

        self._ffi = _ffi
        self._kind = kind
        self._field = "i32" if kind == _ffi.WASMTIME_I32.value else "i64"
        self._context = store._context()
        self._global = ctypes.byref(global_._global)
        self._raw = _ffi.wasmtime_val_t(kind=kind)
        self._raw_ref = ctypes.byref(self._raw)

    def get(self) -> int:
        self._ffi.wasmtime_global_get(self._context, self._global, self._raw_ref)
        return getattr(self._raw.of, self._field)

    def set(self, value: int) -> None:
        self._raw.kind = self._kind
        setattr(self._raw.of, self._field, value)
        error = self._ffi.wasmtime_global_set(self._context, self._global, self._raw_ref)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)


def fast_global(global_: wasmtime.Global, store: wasmtime.Store) -> FastGlobal | None:
    """A FastGlobal for an i32/i64 global, checked against the public API; else None (use that)."""
    try:
        from wasmtime import _ffi

        content = global_.type(store).content
        kinds = {"i32": _ffi.WASMTIME_I32.value, "i64": _ffi.WASMTIME_I64.value}
        name = "i32" if content == wasmtime.ValType.i32() else "i64" if content == wasmtime.ValType.i64() else None
        if name is None:
            return None
        fast = FastGlobal(global_, store, kinds[name])
        return fast if fast.get() == global_.value(store) else None
    except (ImportError, AttributeError, TypeError):  # another wasmtime: the public API
        return None
