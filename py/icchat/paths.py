"""Where the repository keeps its inputs and generated outputs (host-only)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"            # every generated artifact; never committed
NODE_MODULES = REPO / "node_modules"
CANISTER_SRC = REPO / "canister"
BENCH_RESULTS = REPO / "bench" / "results"
