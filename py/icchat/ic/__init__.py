"""IC protocol primitives (host and Pyodide): principals, Candid, and the HTTP interface's
request ids, hash trees, certificates, sender authentication and envelopes.

`principal` and `candid` are stdlib-only; the HTTP-interface modules use cbor2, pyblst and
cryptography/ecdsa (host-only). See docs/ic-primitives.md.
"""
