"""Builds of generated artifacts (host-only): C canisters compiled to WASM with zig, the modules
the IC installs, the page, and the folders a deploy uploads. `pipeline.build_all` runs every step."""
