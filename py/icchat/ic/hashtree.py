"""Hash trees of the IC's certified state (interface spec, "Certification").

    reconstruct(Empty)       = H(domain_sep("ic-hashtree-empty"))
    reconstruct(Fork l r)    = H(domain_sep("ic-hashtree-fork") · reconstruct(l) · reconstruct(r))
    reconstruct(Labeled l t) = H(domain_sep("ic-hashtree-labeled") · l · reconstruct(t))
    reconstruct(Leaf v)      = H(domain_sep("ic-hashtree-leaf") · v)
    reconstruct(Pruned h)    = h

Build a tree from nested dicts (`from_dict`), prune it to witnesses for some paths (`prune`,
what `read_state` returns), look paths up as agents do (`lookup_path`), and convert to and from
the CBOR data model ([0] | [1, l, r] | [2, label, t] | [3, value] | [4, hash]). Stdlib only;
`to_cbor`/`from_cbor` bytes helpers need cbor2.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from icchat.ic.idl.leb128 import uleb

MAX_DEPTH = 128  # well beyond any state tree; bounds recursion on untrusted trees


class HashTreeError(ValueError):
    """A malformed hash tree (in CBOR form or as built)."""


def _domain(name: str) -> bytes:
    return bytes([len(name)]) + name.encode("ascii")


_EMPTY, _FORK, _LABELED, _LEAF = (_domain(s) for s in
                                  ("ic-hashtree-empty", "ic-hashtree-fork", "ic-hashtree-labeled", "ic-hashtree-leaf"))


class HashTree:
    """A node; `digest()` is its reconstructed root hash (computed once)."""

    __slots__ = ("_digest",)

    def digest(self) -> bytes:
        try:
            return self._digest
        except AttributeError:
            self._digest = self._compute()
            return self._digest

    def _compute(self) -> bytes:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HashTree) and type(self) is type(other) and self.digest() == other.digest()

    def __hash__(self) -> int:
        return hash(self.digest())


class Empty(HashTree):
    __slots__ = ()

    def _compute(self) -> bytes:
        return hashlib.sha256(_EMPTY).digest()

    def __repr__(self) -> str:
        return "Empty()"


class Fork(HashTree):
    __slots__ = ("left", "right")

    def __init__(self, left: HashTree, right: HashTree) -> None:
        self.left, self.right = left, right

    def _compute(self) -> bytes:
        return hashlib.sha256(_FORK + self.left.digest() + self.right.digest()).digest()

    def __repr__(self) -> str:
        return f"Fork({self.left!r}, {self.right!r})"


class Labeled(HashTree):
    __slots__ = ("label", "tree")

    def __init__(self, label: bytes, tree: HashTree) -> None:
        self.label, self.tree = bytes(label), tree

    def _compute(self) -> bytes:
        return hashlib.sha256(_LABELED + self.label + self.tree.digest()).digest()

    def __repr__(self) -> str:
        return f"Labeled({self.label!r}, {self.tree!r})"


class Leaf(HashTree):
    __slots__ = ("value",)

    def __init__(self, value: bytes) -> None:
        self.value = bytes(value)

    def _compute(self) -> bytes:
        return hashlib.sha256(_LEAF + self.value).digest()

    def __repr__(self) -> str:
        return f"Leaf({self.value!r})"


class Pruned(HashTree):
    __slots__ = ("hash",)

    def __init__(self, digest: bytes) -> None:
        if len(digest) != 32:
            raise HashTreeError(f"a pruned subtree's hash has 32 bytes, not {len(digest)}")
        self.hash = bytes(digest)

    def _compute(self) -> bytes:
        return self.hash

    def __repr__(self) -> str:
        return f"Pruned({self.hash.hex()})"


def reconstruct(tree: HashTree) -> bytes:
    """The root hash of a (possibly pruned) tree."""
    return tree.digest()


# --- building -------------------------------------------------------------------------------------

Label = bytes | str
TreeData = Mapping[Label, "TreeData"] | bytes | str | int


def label_bytes(label: Label) -> bytes:
    if isinstance(label, str):
        return label.encode("utf-8")
    if isinstance(label, (bytes, bytearray, memoryview)):
        return bytes(label)
    raise HashTreeError(f"labels are bytes or str, not {type(label).__name__}")


def leaf_value(value: bytes | str | int) -> bytes:
    """State-tree values as blobs: nats LEB128-encoded, text UTF-8, blobs as they are."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return uleb(value)
    raise HashTreeError(f"leaf values are bytes, str or nat, not {value!r}")


def from_dict(data: TreeData) -> HashTree:
    """A well-formed tree: dicts become labeled subtrees (sorted, in balanced forks), the rest leaves."""
    if not isinstance(data, Mapping):
        return Leaf(leaf_value(data))
    items = sorted(((label_bytes(k), v) for k, v in data.items()), key=lambda kv: kv[0])
    for (a, _), (b, _) in itertools.pairwise(items):
        if a == b:
            raise HashTreeError(f"label {a!r} appears twice")
    return fork_all([Labeled(label, from_dict(v)) for label, v in items])


def fork_all(trees: Sequence[HashTree]) -> HashTree:
    """Join trees (in order) with a balanced tree of forks; no trees make Empty."""
    if not trees:
        return Empty()
    if len(trees) == 1:
        return trees[0]
    mid = len(trees) // 2
    return Fork(fork_all(trees[:mid]), fork_all(trees[mid:]))


# --- lookup (the spec's algorithm) ---------------------------------------------------------------


class LookupStatus(enum.Enum):
    FOUND = "Found"
    ABSENT = "Absent"
    UNKNOWN = "Unknown"
    ERROR = "Error"


class LookupResult(NamedTuple):
    status: LookupStatus
    value: bytes | None = None

    @property
    def found(self) -> bool:
        return self.status is LookupStatus.FOUND


ABSENT = LookupResult(LookupStatus.ABSENT)
UNKNOWN = LookupResult(LookupStatus.UNKNOWN)
ERROR = LookupResult(LookupStatus.ERROR)


def flatten_forks(tree: HashTree) -> list[HashTree]:
    out: list[HashTree] = []
    stack = [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, Fork):
            stack.append(t.right)
            stack.append(t.left)
        elif not isinstance(t, Empty):
            out.append(t)
    return out


def lookup_path(tree: HashTree, path: Iterable[Label]) -> LookupResult:
    for label in (label_bytes(p) for p in path):
        found = _find_label(label, flatten_forks(tree))
        if not isinstance(found, HashTree):
            return found
        tree = found
    if isinstance(tree, Leaf):
        return LookupResult(LookupStatus.FOUND, tree.value)
    if isinstance(tree, Empty):
        return ABSENT
    if isinstance(tree, Pruned):
        return UNKNOWN
    return ERROR


def lookup_subtree(tree: HashTree, path: Iterable[Label]) -> HashTree | None:
    """The subtree at `path`, or None if the path is not (provably) in the tree."""
    for label in (label_bytes(p) for p in path):
        found = _find_label(label, flatten_forks(tree))
        if not isinstance(found, HashTree):
            return None
        tree = found
    return tree


def leaves_under(tree: HashTree, path: Iterable[Label]) -> list[bytes]:
    """The values of all leaves at or below `path`, in label order (the spec's lookup*)."""
    sub = lookup_subtree(tree, path)
    out: list[bytes] = []
    stack = [] if sub is None else [sub]
    while stack:
        t = stack.pop()
        if isinstance(t, Leaf):
            out.append(t.value)
        elif isinstance(t, Labeled):
            stack.append(t.tree)
        elif isinstance(t, Fork):
            stack.append(t.right)
            stack.append(t.left)
    return out


def _find_label(label: bytes, trees: list[HashTree]) -> HashTree | LookupResult:
    if not trees or (len(trees) == 1 and isinstance(trees[0], Leaf)):
        return ABSENT
    below: bytes | None = None  # the last label known to be smaller than `label`, if adjacent
    for i, t in enumerate(trees):
        if isinstance(t, Labeled):
            if t.label == label:
                return t.tree
            if t.label > label:
                # Absent only if nothing unknown sits between the previous label and this one.
                if i == 0 or (below is not None and isinstance(trees[i - 1], Labeled)):
                    return ABSENT
                return UNKNOWN
            below = t.label
    if isinstance(trees[-1], Labeled) and below is not None:
        return ABSENT
    return UNKNOWN


# --- pruning to witnesses --------------------------------------------------------------------------


def prune(tree: HashTree, paths: Iterable[Sequence[Label]]) -> HashTree:
    """The smallest subtree (same root hash) from which every path's lookup gives the same
    answer as from `tree`: values under a requested path are revealed in full, absent paths
    are proven absent by their neighbouring labels, everything else is pruned to its hash."""
    return _prune(tree, [tuple(label_bytes(p) for p in path) for path in paths], 0)


def _prune(tree: HashTree, paths: list[tuple[bytes, ...]], depth: int) -> HashTree:
    if depth > MAX_DEPTH:
        raise HashTreeError(f"tree nests deeper than {MAX_DEPTH} levels")
    if not paths:
        return tree if isinstance(tree, (Empty, Pruned)) else Pruned(tree.digest())
    if any(len(p) == 0 for p in paths):
        return tree
    forest = flatten_forks(tree)
    if not any(isinstance(t, Labeled) for t in forest):
        return tree  # a leaf, empty or pruned node answers every deeper lookup by itself
    labels = [t.label for t in forest if isinstance(t, Labeled)]
    wanted: dict[bytes, list[tuple[bytes, ...]]] = {}
    for path in paths:
        first = path[0]
        if first in labels:
            wanted.setdefault(first, []).append(path[1:])
            continue
        # Absent: reveal the neighbours that prove it (their subtrees stay pruned).
        smaller = [x for x in labels if x < first]
        larger = [x for x in labels if x > first]
        if smaller:
            wanted.setdefault(smaller[-1], [])
        if larger:
            wanted.setdefault(larger[0], [])
    return _rebuild(tree, wanted, depth)[0]


def _rebuild(tree: HashTree, wanted: dict[bytes, list[tuple[bytes, ...]]], depth: int) -> tuple[HashTree, bool]:
    """The fork structure of `tree` kept where it leads to a wanted label, pruned elsewhere."""
    if isinstance(tree, Fork):
        left, need_left = _rebuild(tree.left, wanted, depth)
        right, need_right = _rebuild(tree.right, wanted, depth)
        if need_left or need_right:
            return Fork(left, right), True
        return Pruned(tree.digest()), False
    if isinstance(tree, Labeled) and tree.label in wanted:
        return Labeled(tree.label, _prune(tree.tree, wanted[tree.label], depth + 1)), True
    if isinstance(tree, (Empty, Pruned)):
        return tree, False
    return Pruned(tree.digest()), False


def well_formed(tree: HashTree) -> bool:
    """Labels strictly increasing within each forest, and leaves never mixed with labels."""
    def check(t: HashTree, depth: int) -> bool:
        if depth > MAX_DEPTH:
            return False
        if isinstance(t, Leaf):
            return True
        forest = flatten_forks(t)
        labels = [x.label for x in forest if isinstance(x, Labeled)]
        if any(isinstance(x, Leaf) for x in forest):
            return False
        if any(a >= b for a, b in itertools.pairwise(labels)):
            return False
        return all(check(x.tree, depth + 1) for x in forest if isinstance(x, Labeled))
    return check(tree, 0)


# --- CBOR data model -------------------------------------------------------------------------------


def to_cbor_obj(tree: HashTree) -> list:
    if isinstance(tree, Empty):
        return [0]
    if isinstance(tree, Fork):
        return [1, to_cbor_obj(tree.left), to_cbor_obj(tree.right)]
    if isinstance(tree, Labeled):
        return [2, tree.label, to_cbor_obj(tree.tree)]
    if isinstance(tree, Leaf):
        return [3, tree.value]
    if isinstance(tree, Pruned):
        return [4, tree.hash]
    raise HashTreeError(f"not a hash tree node: {tree!r}")


def from_cbor_obj(obj: Any, depth: int = 0) -> HashTree:
    """Parse the decoded-CBOR form of a tree, checking every node's shape."""
    if depth > MAX_DEPTH:
        raise HashTreeError(f"hash tree nests deeper than {MAX_DEPTH} levels")
    if not isinstance(obj, (list, tuple)) or not obj or isinstance(obj[0], bool) or not isinstance(obj[0], int):
        raise HashTreeError(f"a hash tree node is an array starting with its tag 0-4, got {_short(obj)}")
    tag, args = obj[0], obj[1:]
    shapes = {0: (), 1: ("tree", "tree"), 2: ("bytes", "tree"), 3: ("bytes",), 4: ("bytes",)}
    if tag not in shapes:
        raise HashTreeError(f"unknown hash tree node tag {tag}")
    if len(args) != len(shapes[tag]):
        raise HashTreeError(f"hash tree node {tag} has {len(args)} fields, expected {len(shapes[tag])}")
    for kind, arg in zip(shapes[tag], args, strict=True):
        if kind == "bytes" and not isinstance(arg, (bytes, bytearray)):
            raise HashTreeError(f"hash tree node {tag} needs a byte string, got {_short(arg)}")
    if tag == 0:
        return Empty()
    if tag == 1:
        return Fork(from_cbor_obj(args[0], depth + 1), from_cbor_obj(args[1], depth + 1))
    if tag == 2:
        return Labeled(args[0], from_cbor_obj(args[1], depth + 1))
    if tag == 3:
        return Leaf(args[0])
    return Pruned(args[0])


def to_cbor(tree: HashTree) -> bytes:
    import cbor2  # host-only dependency, needed only for the byte form

    return cbor2.dumps(to_cbor_obj(tree))


def from_cbor(data: bytes) -> HashTree:
    import cbor2

    try:
        obj = cbor2.loads(data)
    except (cbor2.CBORDecodeError, RecursionError, ValueError) as exc:
        raise HashTreeError(f"hash tree is not valid CBOR: {exc}") from None
    return from_cbor_obj(obj)


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) < 60 else text[:57] + "..."
