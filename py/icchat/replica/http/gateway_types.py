"""Candid types of the HTTP Gateway Protocol (`http_request`, `http_request_update`)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class CanisterRequest:
    """The request as the gateway hands it to the canister (and as v2 certifies it)."""

    method: str
    url: str  # path and query, e.g. "/index.html?lang=en"
    headers: list[tuple[str, str]]
    body: bytes

    def candid(self, certificate_version: int | None) -> bytes:
        """The `http_request` argument; None gives the `http_request_update` one."""
        fields = {"method": self.method, "url": self.url, "headers": self.headers, "body": self.body}
        if certificate_version is None:
            return candid.encode([HTTP_UPDATE_REQUEST], [fields])
        return candid.encode([HTTP_REQUEST], [{**fields, "certificate_version": certificate_version}])
