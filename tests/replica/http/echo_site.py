"""The http_echo test canister (canister/probes/http_echo.c) and the Candid types of its
streaming answers: the callback takes and returns a `nat32` token."""

from __future__ import annotations

from icchat.build.canister import compile_c
from icchat.ic import candid
from icchat.paths import BUILD, REPO

_STREAMING_DID = candid.parse_did("""
type Chunk = record { body : blob; token : opt nat32 };
type Strategy = variant { Callback : record { callback : func (nat32) -> (Chunk) query; token : nat32 } };
type Response = record { status_code : nat16; headers : vec record { text; text }; body : blob;
                         streaming_strategy : opt Strategy; upgrade : opt bool };
service : {}
""")
STREAMED_RESPONSE = candid.parse_type("Response", _STREAMING_DID)
CHUNK = candid.parse_type("Chunk", _STREAMING_DID)


def http_echo_wasm() -> bytes:
    return compile_c([REPO / "canister" / "probes" / "http_echo.c"], BUILD / "test-canisters" / "http_echo.wasm").read_bytes()
