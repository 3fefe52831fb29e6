"""Compile C canisters to WASM with `python -m ziglang cc`, cached by input hash under build/.

    from icchat.build.canister import compile_c
    wasm = compile_c(["canister/probes/sysapi.c"], BUILD / "canisters" / "sysapi.wasm")

Every canister is freestanding wasm32 with SIMD128 and no libc; the exported `canister_*`
functions are its entry points and the `ic0` imports (declared in `canister/runtime/ic0.h`,
whose directory is always on the include path) its System API. A compile is skipped when the
sources, every header under the include directories, the flags and the zig version are unchanged.
Compiler errors become a `UserError` carrying the compiler's own diagnostics.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from icchat.errors import UserError
from icchat.paths import BUILD, CANISTER_SRC

RUNTIME_INCLUDE = CANISTER_SRC / "runtime"
RUNTIME_SOURCES = ("rt.c", "sha256.c", "candid.c", "candid_reader.c", "candid_writer.c", "alloc.c")
STORE_DIR = CANISTER_SRC / "assetstore"
ACCESS_DIR = CANISTER_SRC / "access"
CACHE = BUILD / "cache" / "canisters"
ZIG_CACHE = BUILD / "cache" / "zig"
TARGET_FLAGS = (
    "--target=wasm32-freestanding",
    "-msimd128",
    "-nostdlib",
    "-Wl,--no-entry",
    "-Wl,--export-dynamic",
)
MAX_DIAGNOSTIC_CHARS = 4000  # keep a UserError to a readable size; the head has the first error


def compile_c(
    sources: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    opt: str = "-O3",
    include_dirs: Iterable[str | os.PathLike[str]] = (),
    defines: dict[str, str | int | None] | None = None,
    extra_flags: Sequence[str] = (),
) -> Path:
    """Compile `sources` into the WASM module `out` and return its path.

    `defines` become `-DNAME=VALUE` (or `-DNAME` for None). The result is cached in
    build/cache/canisters/<hash>.wasm and copied to `out` atomically, so a reader never sees a
    half-written module.
    """
    source_paths = [Path(s) for s in sources]
    if not source_paths:
        raise UserError("compile_c needs at least one C source file")
    for path in source_paths:
        if not path.is_file():
            raise UserError(f"C source not found: {path}")
    includes = [RUNTIME_INCLUDE, *(Path(d) for d in include_dirs)]
    flags = [
        *TARGET_FLAGS,
        opt,
        *(f"-I{d}" for d in includes),
        *(_define_flag(k, v) for k, v in sorted((defines or {}).items())),
        *extra_flags,
    ]
    digest = _input_digest(source_paths, includes, flags)
    cached = CACHE / f"{digest}.wasm"
    if not cached.is_file():
        _compile(source_paths, cached, flags)
    out_path = Path(out)
    if not (out_path.is_file() and _same_file_bytes(out_path, cached)):
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(out_path.name + ".tmp")
        shutil.copyfile(cached, tmp)
        os.replace(tmp, out_path)
    return out_path


def runtime_sources() -> list[Path]:
    """The shared C runtime every canister links."""
    return [RUNTIME_INCLUDE / name for name in RUNTIME_SOURCES]


def store_sources() -> list[Path]:
    """The asset store and its HTTP serving (linked by every canister that serves files)."""
    return sorted(STORE_DIR.glob("*.c"))


def gzip_module(wasm: Path, out: Path) -> Path:
    """`out` = `wasm` gzipped deterministically (no name, mtime 0), rewritten only when it changes."""
    packed = gzip.compress(wasm.read_bytes(), compresslevel=9, mtime=0)
    if not (out.is_file() and out.read_bytes() == packed):
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        tmp.write_bytes(packed)
        os.replace(tmp, out)
    return out


def access_sources() -> list[Path]:
    """Who may call a canister's inference and what it may cost (linked by the gpt2 and llm canisters)."""
    return sorted(ACCESS_DIR.glob("*.c"))


@functools.cache
def zig_version() -> str:
    try:
        import ziglang  # noqa: F401  (only to report a missing install clearly)
    except ImportError:
        raise UserError("the `ziglang` package is not installed: pip install ziglang (see pyproject extras 'host')") from None
    result = subprocess.run([sys.executable, "-m", "ziglang", "version"], capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"`python -m ziglang version` failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _define_flag(name: str, value: str | int | None) -> str:
    return f"-D{name}" if value is None else f"-D{name}={value}"


def _input_digest(sources: list[Path], includes: list[Path], flags: list[str]) -> str:
    h = hashlib.sha256()
    h.update(zig_version().encode())
    for flag in flags:
        h.update(b"\0flag\0" + flag.encode())
    for path in sources:
        h.update(b"\0src\0" + path.name.encode() + b"\0" + path.read_bytes())
    for directory in includes:
        if not directory.is_dir():
            continue
        for header in sorted(directory.rglob("*.h")):
            h.update(b"\0hdr\0" + str(header.relative_to(directory)).encode() + b"\0" + header.read_bytes())
    return h.hexdigest()[:32]


def _compile(sources: list[Path], cached: Path, flags: list[str]) -> None:
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.wasm")
    env = dict(os.environ, ZIG_GLOBAL_CACHE_DIR=str(ZIG_CACHE), ZIG_LOCAL_CACHE_DIR=str(ZIG_CACHE))
    command = [sys.executable, "-m", "ziglang", "cc", *flags, *map(str, sources), "-o", str(tmp)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        diagnostics = (result.stderr or result.stdout).strip()
        if len(diagnostics) > MAX_DIAGNOSTIC_CHARS:
            diagnostics = diagnostics[:MAX_DIAGNOSTIC_CHARS] + "\n... (truncated)"
        names = ", ".join(str(s) for s in sources)
        raise UserError(f"compiling {names} to WASM failed:\n{diagnostics}")
    os.replace(tmp, cached)


def _same_file_bytes(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
