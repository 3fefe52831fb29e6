"""Response verification v2 pieces (HTTP Gateway Protocol, "Response Verification"): the
expression path rules, and the request and response hashes.

    request_hash  = sha256(rih(certified request headers + :ic-cert-method [+ :ic-cert-query]) · sha256(request body))
    response_hash = sha256(rih(certified response headers + :ic-cert-status) · sha256(response body))

`rih` is the interface spec's representation-independent hash of a map, here over a list of
pairs because headers may repeat (each repetition counts). Where the prose of the spec leaves
room, the IC's verifier (dfinity/response-verification) decides: `:ic-cert-query` carries the
certified `name=value` fragments joined by `&` as text, and is left out when none is certified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from icchat.ic.hashtree import HashTree, LookupStatus, lookup_path, lookup_subtree
from icchat.ic.request_id import hash_value
from icchat.replica.http.gateway_cel import Certification

PREFIX = "http_expr"
EXACT = "<$>"
WILDCARD = "<*>"
CERTIFICATE_HEADER = "ic-certificate"
EXPRESSION_HEADER = "ic-certificateexpression"


class ExpressionPathError(ValueError):
    pass


def pairs_hash(pairs: Iterable[tuple[str, Any]]) -> bytes:
    """The representation-independent hash of a map given as (key, value) pairs, keys may repeat."""
    return hashlib.sha256(b"".join(sorted(hashlib.sha256(k.encode()).digest() + hash_value(v) for k, v in pairs))).digest()


def request_hash(method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes, certification: Certification) -> bytes:
    wanted = {name.lower() for name in certification.request_headers or ()}
    pairs: list[tuple[str, Any]] = [(k.lower(), v) for k, v in headers if k.lower() in wanted]
    pairs.append((":ic-cert-method", method))
    query = url.split("?", 1)[1].split("#", 1)[0] if "?" in url else None
    if query is not None:
        params = {name.lower() for name in certification.query_parameters}
        kept = [fragment for fragment in query.split("&") if fragment.split("=", 1)[0].lower() in params]
        if kept:
            pairs.append((":ic-cert-query", "&".join(kept)))
    return hashlib.sha256(pairs_hash(pairs) + hashlib.sha256(body).digest()).digest()


def certified_response_headers(headers: Sequence[tuple[str, str]], certification: Certification) -> list[tuple[str, str]]:
    """The response headers the certification covers (names lower-cased, in order):
    IC-CertificateExpression always, IC-Certificate never, the rest as the expression says."""
    names = {name.lower() for name in certification.response_headers}
    kept = []
    for key, value in headers:
        name = key.lower()
        if name == CERTIFICATE_HEADER:
            continue
        if name == EXPRESSION_HEADER or (name in names) != certification.exclude_headers:
            kept.append((name, value))
    return kept


def response_headers_hash(status: int, certified_headers: Sequence[tuple[str, str]]) -> bytes:
    return pairs_hash([*certified_headers, (":ic-cert-status", status)])


def response_hash(headers_hash: bytes, body_sha256: bytes) -> bytes:
    return hashlib.sha256(headers_hash + body_sha256).digest()


# --- expression paths ----------------------------------------------------------------------------


def request_segments(path: str) -> list[str]:
    """The tree path of a (decoded) request path: `/a/b` → [http_expr, a, b]; a directory keeps
    a trailing empty segment (`/a/` → [http_expr, a, ""]) so `/app` and `/app/` differ."""
    segments = [PREFIX, *(part for part in path.split("/") if part)]
    if path.endswith("/"):
        segments.append("")
    return segments


def validate_expression_path(expr_path: list[str], path: str, tree: HashTree) -> None:
    """`expr_path` must be the most specific path of the tree for this request path."""
    if not expr_path or expr_path[0] != PREFIX:
        raise ExpressionPathError(f"expr_path {expr_path} does not start with {PREFIX!r}")
    if expr_path[-1] not in (EXACT, WILDCARD) or any(s in (EXACT, WILDCARD) for s in expr_path[:-1]):
        raise ExpressionPathError(f"expr_path {expr_path} must end, and only end, with {EXACT!r} or {WILDCARD!r}")
    exact = [*request_segments(path), EXACT]
    if expr_path == exact:
        if lookup_subtree(tree, exact) is None:
            raise ExpressionPathError(f"the exact expression path {expr_path} is not in the tree")
        return
    if expr_path[-1] == EXACT:
        raise ExpressionPathError(f"the exact expression path {expr_path} does not match the request path {path!r}")
    if _might_exist(tree, exact):
        raise ExpressionPathError(f"the tree may hold the exact path {exact} for {path!r}, so the wildcard {expr_path} is not the most specific")
    requested = exact[:-1]
    wildcard_prefix = expr_path[:-1]
    if not _wildcard_covers(wildcard_prefix, requested):
        raise ExpressionPathError(f"the wildcard expression path {expr_path} does not cover the request path {path!r}")
    for candidate in _more_specific_wildcards(requested, expr_path):
        if _might_exist(tree, [PREFIX, *candidate]):
            raise ExpressionPathError(
                f"the tree may hold the more specific wildcard {[PREFIX, *candidate]} for {path!r}, so {expr_path} is not the most specific")
    if lookup_subtree(tree, expr_path) is None:
        raise ExpressionPathError(f"the wildcard expression path {expr_path} is not in the tree")


def _might_exist(tree: HashTree, path: list[str]) -> bool:
    """Not provably absent: found, or hidden behind a pruned branch."""
    return lookup_subtree(tree, path) is not None or lookup_path(tree, path).status is LookupStatus.UNKNOWN


def _wildcard_covers(wildcard: list[str], requested: list[str]) -> bool:
    if requested[: len(wildcard)] == wildcard:
        return True
    # A directory wildcard (trailing "") also covers the directory's own path.
    return bool(wildcard) and wildcard[-1] == "" and requested[: len(wildcard) - 1] == wildcard[:-1]


def _strip(path: list[str]) -> list[str]:
    path = list(path)
    if path and path[0] == PREFIX:
        path.pop(0)
    if path and path[-1] in (EXACT, WILDCARD):
        path.pop()
    if len(path) > 1 and path[0] == "":
        path.pop(0)
    return path


def _more_specific_wildcards(requested: list[str], responding: list[str]) -> list[list[str]]:
    """Wildcard paths (without the prefix) between the request path and the responding wildcard,
    most specific first: for a/b/c answered by a/<*>: a/b/c/<*>, a/b//<*>, a/b/<*>, a//<*>."""
    potential = _strip(requested)
    answering = _strip(responding)
    if not _wildcard_covers(answering, potential):
        answering = []
    found = []
    while len(potential) > len(answering) or (potential[-1:] != answering[-1:]):
        found.append([*potential, WILDCARD])
        if potential and potential[-1] == "":
            potential.pop()
        else:
            if potential:
                potential.pop()
            potential.append("")
    return found
