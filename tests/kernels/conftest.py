"""The kernel-check modules (icchat.build.kernel_check) in wasmtime, one per build the kernels ship in."""

from __future__ import annotations

import pytest
from kernel_check_wasm import KernelModule

from icchat.build.kernel_check import build_kernel_check


@pytest.fixture(scope="session", params=["canister", "simd128", "relaxed"])
def kernels(request) -> KernelModule:
    """kernels.h's kernels as each build compiles them: the gpt2 canister's, and the icchat engine's
    SIMD128 and relaxed-SIMD modules."""
    return KernelModule(build_kernel_check(request.param))


@pytest.fixture(scope="session", params=["simd128", "relaxed"])
def browser_kernels(request) -> KernelModule:
    """The engine's modules, which add kernels_browser.h's products."""
    return KernelModule(build_kernel_check(request.param))
