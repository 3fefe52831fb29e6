"""Response verification as the IC's HTTP gateways do it (certification v1: `IC-Certificate`).

v1: the header carries `certificate=:<base64 CBOR>:, tree=:<base64 CBOR>:`. The certificate must
verify against the root key, be fresh (≤ 5 minutes) and certify, as the canister's
`certified_data`, the root hash of the tree; the tree must map `http_assets/<path>` (or
`http_assets//index.html` as the fallback) to the SHA-256 of the body as sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from icchat.ic.certificate import CertificateError, verify_certificate
from icchat.ic.hashtree import HashTreeError, LookupStatus, from_cbor, lookup_path
from icchat.ic.principal import Principal

MAX_CERTIFICATE_AGE_NS = 5 * 60 * 10**9
_FIELD = re.compile(r"(\w+)=:([A-Za-z0-9+/=]*):")


class VerificationError(Exception):
    """The response is not certified for this request; the message says why."""


def verify_v1(header: str, canister_id: Principal, path: str, body: bytes, root_key_der: bytes, now_ns: int) -> None:
    fields = dict(_FIELD.findall(header))
    if "certificate" not in fields or "tree" not in fields:
        raise VerificationError("IC-Certificate header lacks certificate=:…: or tree=:…:")
    try:
        certificate_bytes = base64.b64decode(fields["certificate"], validate=True)
        tree = from_cbor(base64.b64decode(fields["tree"], validate=True))
    except (binascii.Error, HashTreeError, ValueError) as exc:
        raise VerificationError(f"IC-Certificate header is malformed: {exc}") from None
    try:
        certificate = verify_certificate(certificate_bytes, root_key_der, canister_id=canister_id,
                                         now_ns=now_ns, max_age_ns=MAX_CERTIFICATE_AGE_NS)
    except CertificateError as exc:
        raise VerificationError(f"certificate: {exc}") from None
    certified = certificate.lookup([b"canister", canister_id.raw, b"certified_data"])
    if certified.status is not LookupStatus.FOUND or certified.value != tree.digest():
        raise VerificationError("the tree's root hash is not the canister's certified data")
    expected = None
    for candidate in (path, "/index.html"):
        found = lookup_path(tree, [b"http_assets", candidate.encode()])
        if found.status is LookupStatus.FOUND:
            expected = found.value
            break
    if expected is None:
        raise VerificationError(f"the certification tree has no entry for {path}")
    if hashlib.sha256(body).digest() != expected:
        raise VerificationError(f"the body's SHA-256 does not match the certified hash of {path}")
