"""Builds of generated artifacts (host-only): C canisters compiled to WASM with zig."""
