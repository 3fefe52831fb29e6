"""The C labeled hash tree (canister/assetstore/certtree.c) in the replica, against the Python
reference (icchat.ic.hashtree): root hashes after random puts and removes, witnesses node for node
equal to `prune`, lookups on them Found / Absent as asked, and the lazy re-hashing's cost."""

from __future__ import annotations

import itertools
from typing import Any

import cbor2
import pytest
from certtree_helpers import Op
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.ic.hashtree import Fork as HFork
from icchat.ic.hashtree import (
    HashTree,
    Labeled,
    Leaf,
    LookupStatus,
    Pruned,
    from_dict,
    lookup_path,
    prune,
    to_cbor_obj,
    well_formed,
)

LABELS = [b"", b"a", b"b", b"ab", b"abc", b"\x00", b"\xff", b"http_expr", b"z" * 40, bytes(range(32))]
label = st.sampled_from(LABELS)
path = st.lists(label, min_size=1, max_size=4)
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the model: nested dicts, as from_dict takes them ---------------------------------------------


def model_conflict(model: dict, p: list[bytes]) -> bool:
    node: Any = model
    for lab in p:
        if not isinstance(node, dict):
            return True  # runs through a leaf
        if lab not in node:
            return False
        node = node[lab]
    return isinstance(node, dict)  # a leaf would replace an inner node


def model_put(model: dict, p: list[bytes], value: bytes) -> None:
    node = model
    for lab in p[:-1]:
        node = node.setdefault(lab, {})
    node[p[-1]] = value


def model_remove(model: dict, p: list[bytes]) -> None:
    stack, node = [], model
    for lab in p:
        if not isinstance(node, dict) or lab not in node:
            return
        stack.append((node, lab))
        node = node[lab]
    parent, lab = stack.pop()
    del parent[lab]
    while stack and not parent:  # ancestors left empty go too
        parent, lab = stack.pop()
        del parent[lab]


def model_paths(model: Any, prefix: tuple[bytes, ...] = ()) -> list[tuple[bytes, ...]]:
    """Every node's path (inner and leaf), root excluded."""
    out = []
    if isinstance(model, dict):
        for lab, child in model.items():
            out.append((*prefix, lab))
            out.extend(model_paths(child, (*prefix, lab)))
    return out


def lookup_model(model: Any, p: list[bytes]) -> Any:
    for lab in p:
        if not isinstance(model, dict) or lab not in model:
            return None
        model = model[lab]
    return model


wide_path = st.lists(st.integers(0, 150).map(lambda i: b"%03d" % i), min_size=1, max_size=2)


@st.composite
def scenarios(draw, path=path, max_ops: int = 40) -> tuple[list[Op], dict]:
    """Valid operations (puts that would conflict are dropped, as the model refuses them) and the
    dict they leave."""
    model: dict = {}
    ops: list[Op] = [("remove", [], b"")]  # start from an empty tree
    for _ in range(draw(st.integers(0, max_ops))):
        if draw(st.integers(0, 3)) == 0 and model:
            victim = list(draw(st.sampled_from(model_paths(model)))) if draw(st.booleans()) else draw(path)
            ops.append(("remove", victim, b""))
            model_remove(model, victim)
        else:
            p, value = draw(path), draw(st.binary(max_size=40))
            if model_conflict(model, p):
                continue
            ops.append(("put", p, value))
            model_put(model, p, value)
    return ops, model


def assert_only_asked_revealed(witness: HashTree, model: dict, paths: list[list[bytes]]) -> None:
    """Every revealed leaf lies on or under a requested path (else it should have been pruned),
    except a leaf that a requested path runs through."""
    def walk(t: HashTree, at: tuple[bytes, ...]) -> None:
        if isinstance(t, HFork):
            walk(t.left, at)
            walk(t.right, at)
        elif isinstance(t, Labeled):
            walk(t.tree, (*at, t.label))
        elif isinstance(t, Leaf):
            assert any(at[:len(p)] == tuple(p) or tuple(p[:len(at)]) == at for p in paths), (at, paths)
    walk(witness, ())


# --- tests ----------------------------------------------------------------------------------------


def replay(ops: list[Op]) -> dict:
    model: dict = {}
    for kind, p, value in ops:
        if kind == "put":
            model_put(model, list(p), value)
        elif p:
            model_remove(model, list(p))
        else:
            model.clear()
    return model


@SETTINGS
@given(scenario=scenarios(), cuts=st.lists(st.integers(1, 40), max_size=3), extra=st.lists(path, max_size=3),
       picks=st.lists(st.integers(0, 10**6), max_size=3))
def test_random_puts_and_removes_match_the_python_tree_and_witnesses_match_prune(probe, scenario, cuts, extra, picks):
    ops, model = scenario
    # In several messages, so later root hashes reuse the hashes cached by earlier ones.
    bounds = [0, *sorted({c for c in cuts if c < len(ops)}), len(ops)]
    for start, end in itertools.pairwise(bounds):
        applied = probe.apply(ops[start:end])
        assert applied.root == from_dict(replay(ops[:end])).digest()
    tree = from_dict(model)
    assert applied.root == tree.digest() == probe.root()
    existing = model_paths(model)
    paths = [list(existing[i % len(existing)]) for i in picks if existing] + extra
    witness = probe.witness_tree(paths)
    assert to_cbor_obj(witness) == to_cbor_obj(prune(tree, paths))
    assert witness.digest() == tree.digest()
    assert well_formed(witness)
    assert_only_asked_revealed(witness, model, paths)
    for p in paths:
        expected = lookup_model(model, p)
        found = lookup_path(witness, p)
        if isinstance(expected, bytes):
            assert found.status is LookupStatus.FOUND and found.value == expected, (p, found)
        elif expected is None:  # absent, or running through a leaf
            assert found.status is LookupStatus.ABSENT, (p, found)  # absent: proven, not Unknown
    for p in existing[:8]:
        contains, value = probe.lookup(list(p))
        assert contains and value == (lookup_model(model, list(p)) if isinstance(lookup_model(model, list(p)), bytes) else None)


@settings(SETTINGS, max_examples=15)
@given(scenario=scenarios(wide_path, 400), cuts=st.lists(st.integers(1, 400), min_size=4, max_size=30))
def test_wide_nodes_rehashed_over_several_messages_match_the_python_tree(probe, scenario, cuts):
    """Nodes of ~100 children reshaped by inserts and removes between root hashes: the fork
    hashes kept from earlier messages are reused only where still right."""
    ops, model = scenario
    bounds = [0, *sorted({c for c in cuts if c < len(ops)}), len(ops)]
    for start, end in itertools.pairwise(bounds):
        assert probe.apply(ops[start:end]).root == from_dict(replay(ops[:end])).digest()
    sample = model_paths(model)[::17]
    assert to_cbor_obj(probe.witness_tree([list(p) for p in sample])) == to_cbor_obj(prune(from_dict(model), sample))


@pytest.mark.parametrize("steps", [
    [["a", "b", "c"], ["-b"]],  # the fork over a..c keeps its ends but loses its middle
    [["a", "c"], ["b"]],  # ...or gains one
    [["a", "b", "c", "d", "e"], ["-c", "f"], ["-a", "c"], ["-f", "-e"]],
])
def test_reshaped_nodes_between_messages(probe, steps):
    probe.clear()
    model: dict = {}
    for step in steps:
        ops: list[Op] = []
        for name in step:
            if name.startswith("-"):
                ops.append(("remove", [b"n", name[1:].encode()], b""))
                model.pop(name[1:].encode())
            else:
                ops.append(("put", [b"n", name.encode()], name.encode()))
                model[name.encode()] = name.encode()
        assert probe.apply(ops).root == from_dict({b"n": model}).digest(), step


def test_witness_of_nothing_is_the_pruned_root(probe):
    probe.apply([("remove", [], b""), ("put", [b"a", b"b"], b"v")])
    witness = probe.witness_tree([])
    assert isinstance(witness, Pruned) and witness.digest() == probe.root()
    probe.clear()
    assert to_cbor_obj(probe.witness_tree([])) == [0] and to_cbor_obj(probe.witness_tree([[b"x"]])) == [0]


def test_an_inner_path_reveals_its_whole_subtree(probe):
    data = {b"http_assets": {b"/a": b"1", b"/b": b"2"}, b"other": {b"x": b"3"}}
    probe.apply([("remove", [], b""), *(("put", [k, kk], v) for k, sub in data.items() for kk, v in sub.items())])
    witness = probe.witness_tree([[b"http_assets"]])
    assert to_cbor_obj(witness) == to_cbor_obj(prune(from_dict(data), [[b"http_assets"]]))
    assert lookup_path(witness, [b"http_assets", b"/b"]).value == b"2"
    assert lookup_path(witness, [b"other", b"x"]).status is LookupStatus.UNKNOWN


def test_conflicting_puts_trap_with_the_reason_and_change_nothing(probe):
    before = probe.apply([("remove", [], b""), ("put", [b"a", b"b"], b"v")]).root
    for ops, reason in [([("put", [b"a", b"b", b"c"], b"w")], "the path runs through an existing leaf"),
                        ([("put", [b"a"], b"w")], "a leaf may not replace an inner node"),
                        ([("put", [b"q"], b"fine"), ("put", [], b"w")], "a leaf needs a path of at least one label")]:
        with pytest.raises(Exception) as failure:
            probe.apply(ops)
        assert reason in str(failure.value)
        assert probe.root() == before  # the trap rolled the whole batch back
    assert probe.lookup([b"q"]) == (False, None)


def test_removes_free_their_memory(probe):
    base = probe.clear().live_bytes
    ops = [("put", [b"dir%d" % (i % 7), b"entry%d" % i], b"x" * (i % 300)) for i in range(300)]
    grown = probe.apply(ops).live_bytes
    assert grown > base + 300 * 32
    assert probe.clear().live_bytes == base
    assert probe.apply(ops).live_bytes == grown  # the same tree again takes the same memory


def test_cost_root_hash_after_one_put_into_200_entries_and_a_witness(probe, record_property):
    """Lazy re-hashing: changing one value of a 200-entry node re-hashes about log2(200) forks;
    adding an entry (the fork shape changes) re-hashes that node's forks, nothing else."""
    entries = [("put", [b"http_assets", b"/asset/%03d.js" % i], bytes(32)) for i in range(200)]
    first = probe.apply([("remove", [], b""), *entries, ("put", [b"other", b"x"], b"y")])
    changed = probe.apply([("put", [b"http_assets", b"/asset/100.js"], b"\1" * 32)])
    added = probe.apply([("put", [b"http_assets", b"/asset/100a.js"], b"\2" * 32)])
    _, witness_cost = probe.witness([[b"http_assets", b"/asset/042.js"]])
    _, absent_cost = probe.witness([[b"http_assets", b"/asset/042x.js"]])
    costs = {"root_hash_201_entries_from_scratch": first.hash_instructions, "root_hash_after_changing_1_of_200": changed.hash_instructions,
             "root_hash_after_adding_1_to_200": added.hash_instructions, "witness_1_path_of_201": witness_cost,
             "witness_1_absent_path_of_201": absent_cost, "put_1": changed.op_instructions}
    for name, value in costs.items():
        record_property(name, value)
    print(costs)
    block = 4690  # one SHA-256 block (docs/c-runtime.md)
    assert changed.hash_instructions < 30 * block  # 23 blocks: leaf, its Labeled, 8 forks, the root's Labeled and Fork
    assert added.hash_instructions < first.hash_instructions
    assert witness_cost < 10 * block  # no hashing (one re-hash of the node would be ~2M): cached hashes are copied out
    cbor, _ = probe.witness([[b"http_assets", b"/asset/042.js"]])
    assert len(cbor) < 800 and cbor2.loads(cbor[3:])  # one leaf and ~9 pruned siblings
