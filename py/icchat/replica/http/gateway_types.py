"""Candid types of the HTTP Gateway Protocol (`http_request`, `http_request_update`)."""

from __future__ import annotations

from icchat.ic import candid

_DID = """
type HeaderField = record { text; text };
type HttpRequest = record {
  method : text; url : text; headers : vec HeaderField; body : blob;
  certificate_version : opt nat16;
};
type HttpUpdateRequest = record { method : text; url : text; headers : vec HeaderField; body : blob };
type HttpResponse = record {
  status_code : nat16; headers : vec HeaderField; body : blob;
  streaming_strategy : opt reserved; upgrade : opt bool;
};
service : {}
"""

_did = candid.parse_did(_DID)
HTTP_REQUEST = candid.parse_type("HttpRequest", _did)
HTTP_UPDATE_REQUEST = candid.parse_type("HttpUpdateRequest", _did)
# The streaming strategy is decoded as `reserved` (dropped) here and inspected separately.
HTTP_RESPONSE = candid.parse_type("HttpResponse", _did)
