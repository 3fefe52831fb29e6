"""Streaming callbacks of the HTTP Gateway Protocol.

    streaming_strategy : opt variant { Callback : record {
        callback : func (Token) -> (record { body : blob; token : opt Token }) query;
        token : Token } }

The token's type belongs to the canister, so the response is decoded with the types it carries
and the token is sent back at exactly that type. Chunks are fetched lazily, as the client reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from icchat.ic import candid
from icchat.ic.idl.types import Opt, Record, Variant, idl_hash, resolve
from icchat.ic.principal import Principal

MAX_CHUNKS = 100_000  # a canister that never ends its stream is cut off, not followed forever


class StreamingError(Exception):
    pass


@dataclass(frozen=True)
class Callback:
    canister_id: Principal
    method: str
    token_type: Any
    token: Any


def callback_of(reply: bytes) -> Callback | None:
    """The streaming callback an HttpResponse reply names, or None."""
    types, values = candid.decode_with_types(reply)
    record, value = resolve(types[0]), values[0]
    field = _field(record, Record, "streaming_strategy")
    strategy = value.get(field.id)
    if strategy is None:
        return None
    variant = resolve(resolve(field.type).inner) if isinstance(resolve(field.type), Opt) else None
    tag = idl_hash("Callback")
    if not isinstance(variant, Variant) or tag not in strategy:
        raise StreamingError("streaming_strategy is not a Callback")
    callback_record = resolve(variant.by_id[tag].type)
    inner = strategy[tag]
    func = inner[_field(callback_record, Record, "callback").id]
    token_field = _field(callback_record, Record, "token")
    return Callback(func.service, func.method, token_field.type, inner[token_field.id])


def chunks(replica: Any, first: Callback) -> Iterator[bytes | memoryview]:
    """Bodies of the follow-up chunks (the first body comes with the response itself), as
    memoryviews into the callback replies."""
    callback: Callback | None = first
    for _ in range(MAX_CHUNKS):
        if callback is None:
            return
        reply = replica.query(callback.canister_id, callback.method, candid.encode([callback.token_type], [callback.token]))
        types, values = candid.decode_with_types(reply, blob_views=True)  # the body: a view, not a 2 MB copy
        record, value = resolve(types[0]), values[0]
        yield value[_field(record, Record, "body").id]
        token_field = _field(record, Record, "token")
        token = value.get(token_field.id)
        callback = None if token is None else Callback(callback.canister_id, callback.method, resolve(token_field.type).inner, token)
    raise StreamingError(f"the stream did not end after {MAX_CHUNKS} chunks")


def _field(record: Any, kind: type, name: str) -> Any:
    if not isinstance(record, kind) or idl_hash(name) not in record.by_id:
        raise StreamingError(f"streaming answer has no field {name!r}")
    return record.by_id[idl_hash(name)]
