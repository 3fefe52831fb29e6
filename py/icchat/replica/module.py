"""Canister modules: loaded through the metering layer, then checked against the IC's rules.

`MeteredModule.load` (icchat.replica.meter) gunzips, validates the WASM as the IC does,
instruments and compiles. This module adds the checks that depend on the System API this
replica offers and on the entry points: every import is an `ic0` function with the right
signature that this replica implements (an IC function it does not implement is refused here,
at install, by name), and the exported `canister_*` functions follow the interface spec. Errors
carry the IC's wording (rs/embedders/src/wasm_utils/validation.rs).
"""

from __future__ import annotations

import collections
import hashlib
import zlib
from dataclasses import dataclass
from typing import Any

import wasmtime

from icchat.replica import errors
from icchat.replica.api_table import SYSTEM_API, unsupported_reason
from icchat.replica.errors import ExecutionError
from icchat.replica.limits import MAX_WASM_MODULE_SIZE
from icchat.replica.meter import InvalidModule, MeteredModule

METHOD_PREFIXES = {
    "canister_update ": "update",
    "canister_query ": "query",
    "canister_composite_query ": "composite_query",
}
SYSTEM_EXPORTS = (
    "canister_init",
    "canister_pre_upgrade",
    "canister_post_upgrade",
    "canister_inspect_message",
    "canister_heartbeat",
    "canister_global_timer",
)
RESERVED_SYMBOLS = ("canister counter_instructions", "canister_start", "canister counter_dirty_pages")
MAX_METHODS = 1000
MODULE_CACHE_SIZE = 8
MAX_METHOD_NAME_BYTES = 20_000
GZIP_MAGIC = b"\x1f\x8b\x08"
_RUST_TYPES = {"i32": "I32", "i64": "I64", "f32": "F32", "f64": "F64", "v128": "V128"}


@dataclass
class CanisterModule:
    wasm: bytes  # as installed (possibly gzipped): what module_hash covers
    hash: bytes
    metered: MeteredModule
    methods: dict[str, str]  # method name -> "update" | "query" | "composite_query"
    system: frozenset[str]  # exported canister_init, canister_heartbeat, ...
    ic0_imports: set[str]
    persistent_globals: list[str]

    @classmethod
    def load(cls, engine: wasmtime.Engine, wasm: bytes) -> CanisterModule:
        """Load and validate `wasm`; raises ExecutionError (CanisterInvalidWasm) if the IC would refuse it."""
        wasm = bytes(wasm)
        _check_size(wasm)
        try:
            metered = MeteredModule.load(engine, wasm)
        except InvalidModule as exc:
            raise errors.invalid_wasm(str(exc)) from None
        except wasmtime.WasmtimeError as exc:
            raise errors.invalid_wasm(f"Wasmtime failed to validate wasm module {_first_line(exc)}") from None
        ic0_imports = _check_imports(metered.imports)
        methods, system = _check_exports(metered.exports)
        return cls(
            wasm=wasm,
            hash=hashlib.sha256(wasm).digest(),
            metered=metered,
            methods=methods,
            system=frozenset(system),
            ic0_imports=ic0_imports,
            persistent_globals=list(metered.persistent_globals),
        )

    def has_method(self, kind: str, name: str) -> bool:
        return self.methods.get(name) == kind

    def has_system(self, export: str) -> bool:
        return export in self.system


class ModuleCache:
    """Modules loaded (validated, instrumented, compiled) once: the recently used are kept by hash."""

    def __init__(self, engine: wasmtime.Engine, size: int = MODULE_CACHE_SIZE) -> None:
        self.engine = engine
        self.size = size
        self._modules: collections.OrderedDict[bytes, CanisterModule] = collections.OrderedDict()

    def load(self, wasm: bytes) -> CanisterModule:
        key = hashlib.sha256(wasm).digest()
        module = self._modules.get(key)
        if module is None:
            module = CanisterModule.load(self.engine, wasm)
            self._modules[key] = module
            while len(self._modules) > self.size:
                self._modules.popitem(last=False)
        else:
            self._modules.move_to_end(key)
        return module


def _check_size(wasm: bytes) -> None:
    if len(wasm) > MAX_WASM_MODULE_SIZE:
        raise _too_large(len(wasm))
    if wasm.startswith(GZIP_MAGIC):
        # Bound the decompressed size before the metering layer inflates it (gzip bombs).
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            size = len(decompressor.decompress(wasm, MAX_WASM_MODULE_SIZE + 1))
        except zlib.error as exc:
            raise errors.invalid_wasm(f"Failed to decode wasm module: failed to decompress gzip: {exc}") from None
        if size > MAX_WASM_MODULE_SIZE:
            raise _too_large(size)


def _too_large(size: int) -> ExecutionError:
    return errors.invalid_wasm(
        f"Wasm module size of {size} exceeds the maximum allowed size of {MAX_WASM_MODULE_SIZE}.",
        help=errors.user_help(
            "Try shrinking the module using tools like `ic-wasm` or splitting the logic across multiple canisters.",
            "wasm-module-too-large",
        ),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _import_section(reason: str) -> ExecutionError:
    return errors.invalid_wasm(f"Wasm module has an invalid import section. {reason}")


def _export_section(reason: str) -> ExecutionError:
    return errors.invalid_wasm(f"Wasm module has an invalid export section. {reason}")


def _check_imports(imports: list[Any]) -> set[str]:
    ic0: set[str] = set()
    for item in imports:
        module, name, kind, params, results = describe(item)
        if kind == "func":
            api = SYSTEM_API.get(name)
            if api is None:
                raise _import_section(f"Module imports function '{name}' from '{module}' that is not exported by the runtime.")
            if module != "ic0":
                raise _import_section(
                    f'Module imports function "{name}" from "{module}", expected to be imported from one of ["ic0"] instead.'
                )
            _check_signature(name, api.params, api.results, params, results)
            if not api.supported:
                raise _import_section(
                    f"Module imports function '{name}' from 'ic0' that is not supported by the icchat local "
                    f"replica ({unsupported_reason(name)}); the IC offers it, this replica does not."
                )
            ic0.add(name)
        elif kind == "table":
            if name == "table" and module != "env":
                raise _import_section("Only tables imported from env.table are allowed.")
        elif kind == "memory":
            if name == "memory" and module != "env":
                raise _import_section("Only memory imported from env.memory is allowed.")
        elif kind == "global":
            raise _import_section("Importing globals is not allowed.")
        else:
            raise _import_section(f"Importing {kind}s is not allowed.")
    return ic0


def _check_exports(exports: list[Any]) -> tuple[dict[str, str], set[str]]:
    methods: dict[str, str] = {}
    system: set[str] = set()
    name_bytes = 0
    for item in exports:
        _, name, kind, params, results = describe(item)
        if name in RESERVED_SYMBOLS:
            raise _export_section(f"Exporting reserved symbol {name} not allowed.")
        if kind != "func":
            continue
        prefix = next((p for p in METHOD_PREFIXES if name.startswith(p)), None)
        if prefix is not None:
            method = name[len(prefix) :]
            if method in methods:
                raise errors.invalid_wasm(
                    f"Duplicate function '{method}' exported multiple times with different call types: "
                    "update, query, or composite_query.",
                    help=errors.user_help(
                        f"Try defining different versions of the function for each call type, e.g. `{method}_update`, `{method}_query`, etc.",
                        "wasm-module-duplicate-exports",
                    ),
                )
            methods[method] = METHOD_PREFIXES[prefix]
            name_bytes += len(method.encode())
        elif name.startswith("canister_"):
            if name not in SYSTEM_EXPORTS:
                raise _export_section(f"Exporting reserved function '{name}' with \"canister_\" prefix")
            system.add(name)
        else:
            continue
        _check_signature(name, (), (), params, results)
    if len(methods) > MAX_METHODS:
        raise errors.invalid_wasm(
            "The number of exported functions called `canister_update <name>`, `canister_query <name>`, or "
            f"`canister_composite_query <name>` is {len(methods)} which exceeds {MAX_METHODS}.",
            help=errors.user_help("Try combining multiple endpoints into a single endpoint.", "wasm-module-exports-too-many-methods"),
        )
    if name_bytes > MAX_METHOD_NAME_BYTES:
        raise errors.invalid_wasm(
            "The sum of `<name>` lengths in exported functions called `canister_update <name>`, "
            f"`canister_query <name>`, or `canister_composite_query <name>` is {name_bytes} which exceeds "
            f"the allowed limit of {MAX_METHOD_NAME_BYTES}.",
            help=errors.user_help("Try using shorter method names.", "wasm-module-sum-of-exported-name-lengths-too-large"),
        )
    return methods, system


def _check_signature(
    name: str, want_params: tuple[str, ...], want_results: tuple[str, ...], params: tuple[str, ...], results: tuple[str, ...]
) -> None:
    def show(types: tuple[str, ...]) -> str:
        return "[" + ", ".join(_RUST_TYPES.get(t, t) for t in types) + "]"

    if params != want_params:
        raise errors.invalid_wasm(
            f"Wasm module has an invalid function signature. Expected input params {show(want_params)} for '{name}', got {show(params)}."
        )
    if results != want_results:
        raise errors.invalid_wasm(
            f"Wasm module has an invalid function signature. Expected return type {show(want_results)} for '{name}', got {show(results)}."
        )


def describe(item: Any) -> tuple[str, str, str, tuple[str, ...], tuple[str, ...]]:
    """(module, name, kind, params, results) of an import/export record of the metering layer."""
    module = getattr(item, "module", "") or ""
    name = item.name
    kind = getattr(item, "kind", None)
    functype = getattr(item, "type", None)
    if isinstance(functype, wasmtime.FuncType):
        kind = kind or "func"
        params = tuple(str(t) for t in functype.params)
        results = tuple(str(t) for t in functype.results)
    else:
        params = tuple(str(t) for t in getattr(item, "params", ()) or ())
        results = tuple(str(t) for t in getattr(item, "results", ()) or ())
    kind = str(kind or "func").lower()
    kind = {"function": "func", "mem": "memory"}.get(kind, kind)
    return module, name, kind, params, results
