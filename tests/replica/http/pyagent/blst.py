"""A stand-in for the `blst` SWIG binding that icp-py-core imports for BLS verification.

The official binding is not on PyPI (it is built from the blst sources). icp-py-core calls only
`P1_Affine(bytes)`, `P2_Affine(bytes)`, `sig.core_verify(pk, True, msg, dst, None)` and, as a
fallback, `Pairing`; this module answers those with pyblst (PyPI) through
`icchat.ic.certificate.bls_verify`, which is cross-checked against the JS agent. Everything else
icp-py-core does — certificate decoding, tree lookups, delegation checks — stays its own.
"""

from __future__ import annotations

from icchat.ic.certificate import DST, bls_verify

BLST_SUCCESS = 0
BLST_VERIFY_FAIL = 5


class P1_Affine:
    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)

    def core_verify(self, public_key: P2_Affine, hash_or_encode: bool, message: bytes, dst: bytes, aug: bytes | None = None) -> int:
        if not hash_or_encode or bytes(dst) != DST or aug:
            return BLST_VERIFY_FAIL
        return BLST_SUCCESS if bls_verify(public_key.data, self.data, bytes(message)) else BLST_VERIFY_FAIL


class P2_Affine:
    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)


class Pairing:
    """Only reached when `core_verify` did not succeed: never claims success on its own."""

    def __init__(self, hash_or_encode: bool, dst: bytes) -> None:
        pass

    def aggregate(self, *args: object) -> int:
        return BLST_SUCCESS

    def finalverify(self) -> bool:
        return False
