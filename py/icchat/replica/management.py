"""The management canister `aaaaa-aa`: canister lifecycle, code installation, settings, status.

Arguments and replies are Candid with the types of the interface specification's ic.did
(`management.did` here), so agents' management helpers work unchanged. Only controllers may
manage a canister (IC0512, with the IC's wording). As on the IC, `create_canister`, `raw_rand`,
`deposit_cycles` and `canister_info` are for canisters only; users create canisters with
`provisional_create_canister_with_cycles`, which this local replica allows to everybody.
Cycles are charged as on a 13-node subnet (icchat.replica.cycles): ingress induction to the
canister a call is about, install_code's execution, upload_chunk's instructions.

Canisters call it too (`call(..., from_canister=True)`, routed by icchat.replica.scheduler):
no induction is charged then, the canister-only methods are open, and `deposit_cycles` keeps
the cycles attached. `stop_canister` on a canister with open call contexts leaves it stopping
and raises `StopPending`: the scheduler answers the call once the contexts have closed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.replica import cycles, errors
from icchat.replica.canisters import Canisters
from icchat.replica.errors import ErrorCode, ExecutionError, Reject
from icchat.replica.execution_environment import ExecutionEnvironment
from icchat.replica.limits import (
    DEFAULT_PROVISIONAL_CYCLES,
    MAX_CONTROLLERS,
    MAX_WASM_CHUNKS,
    MAX_WASM_MODULE_SIZE,
    WASM_CHUNK_SIZE,
)
from icchat.replica.module import ModuleCache
from icchat.replica.state import CanisterState, Settings, Status, SystemState

DID = candid.parse_did((Path(__file__).with_name("management.did")).read_text())
METHODS: dict[str, candid.Func] = dict(DID.service.methods)
CANISTER_ONLY = frozenset({"create_canister", "raw_rand", "deposit_cycles", "canister_info", "http_request"})
# No canister pays these: creation (there is none yet) and the provisional top-up (a local-only
# method; charging it to the canister it tops up would stop it from unfreezing one).
UNPAID_METHODS = frozenset({"create_canister", "provisional_create_canister_with_cycles", "provisional_top_up_canister"})
MAX_DELAYED_INGRESS_COST_PAYLOAD = 366  # update_settings up to this size pays its induction afterwards
UPLOAD_CHUNK_INSTRUCTIONS = 200_000_000  # upload_wasm_chunk_instructions (application subnets)
QUERY_ONLY = frozenset({"fetch_canister_logs"})
MAX_HISTORY = 20


class StopPending(Exception):
    """stop_canister left the canister stopping: it answers once its call contexts have closed."""

    def __init__(self, canister: CanisterState) -> None:
        super().__init__(f"Canister {canister.id} is stopping")
        self.canister = canister


class ManagementCanister:
    """Works on the subnet's canisters, runs code installation in the execution environment,
    loads modules through the cache and reads replica time from `clock`: never the replica."""

    def __init__(
        self, canisters: Canisters, execution: ExecutionEnvironment, modules: ModuleCache, clock: Callable[[], int]
    ) -> None:
        self.canisters = canisters
        self.execution = execution
        self.modules = modules
        self.clock = clock
        # Called when start_canister finds the canister stopping: its stop_canister calls fail
        # (the scheduler, which answers them, sets this).
        self.stop_cancelled: Callable[[CanisterState], None] = lambda canister: None
        # Called once a canister's code is uninstalled: its open call contexts are rejected (the
        # scheduler, which answers them, sets this).
        self.code_uninstalled: Callable[[CanisterState], None] = lambda canister: None
        self._handlers: dict[str, Callable[[dict[str, Any], Principal], Any]] = {
            name: getattr(self, f"_{name}") for name in METHODS
        }

    # --- dispatch --------------------------------------------------------------------------------------

    def call(
        self, method: str, arg: bytes, sender: Principal, *, replicated: bool = True, ingress_bytes: int | None = None,
        from_canister: bool = False,
    ) -> bytes:
        """Execute a call to `aaaaa-aa` from a user (ingress or query) or a canister; Candid in,
        Candid out.

        An ingress message is paid for by the canister it is about (its effective canister id):
        its induction (`ingress_bytes`, default method name + argument) before it runs, except
        a small update_settings, charged after the settings apply (so a canister frozen by a
        too-high freezing threshold can be unfrozen), as on the IC."""
        func = METHODS.get(method)
        # http_request has no Candid entry here (the outcall service reads its argument): a
        # user's update call to it gets the IC's refusal, a query finds no such method.
        if method in CANISTER_ONLY and not from_canister and (func is not None or replicated):
            raise Reject.of(ErrorCode.CANISTER_REJECTED_MESSAGE, f"Only canisters can call ic00 method {method}")
        if func is None:
            raise Reject.of(ErrorCode.CANISTER_METHOD_NOT_FOUND, f"Management canister has no method '{method}'")
        if replicated and method in QUERY_ONLY:
            raise Reject.of(
                ErrorCode.CANISTER_REJECTED_MESSAGE, f"{method} API is only accessible in non-replicated mode"
            )
        if not replicated and method not in QUERY_ONLY:
            raise Reject.of(
                ErrorCode.CANISTER_REJECTED_MESSAGE,
                f"Query call to ic00 method {method} is not allowed: only fetch_canister_logs is a query method",
            )
        try:
            args = candid.decode(arg, func.args)
        except candid.CandidError as exc:
            raise Reject.of(ErrorCode.INVALID_MANAGEMENT_PAYLOAD, f"Error decoding candid: {exc}") from None
        record = args[0] if args else {}
        payer = self._payer(method, record) if replicated and not from_canister else None
        size = len(method.encode()) + len(arg) if ingress_bytes is None else ingress_bytes
        delayed = method == "update_settings" and len(arg) <= MAX_DELAYED_INGRESS_COST_PAYLOAD
        if payer is not None and not delayed:
            cycles.charge_ingress(payer, size, sender)
        result = self._handlers[method](record, sender)
        if payer is not None and delayed:
            # A failure is ignored, as on the IC: the new settings may be what lets it pay later.
            with contextlib.suppress(Reject):
                cycles.charge_ingress(payer, size, sender)
        return candid.encode(func.rets, [] if not func.rets else [result])

    def ingress_payer(self, method: str, arg: bytes) -> CanisterState | None:
        """The canister an ingress call to aaaaa-aa would be charged to (None: free or unknown)."""
        func = METHODS.get(method)
        if func is None or (method == "update_settings" and len(arg) <= MAX_DELAYED_INGRESS_COST_PAYLOAD):
            return None
        try:
            args = candid.decode(arg, func.args)
        except candid.CandidError:
            return None
        return self._payer(method, args[0] if args else {})

    def _payer(self, method: str, record: Any) -> CanisterState | None:
        if method in UNPAID_METHODS or not isinstance(record, dict):
            return None
        subject = record.get("target_canister" if method == "install_chunked_code" else "canister_id")
        if not isinstance(subject, Principal):
            return None
        try:
            return self.canisters.get(subject)
        except Reject:
            return None  # the handler says "not found"

    # --- helpers ------------------------------------------------------------------------------------------

    def _controlled(self, canister_id: Principal, sender: Principal) -> CanisterState:
        canister = self.canisters.get(canister_id)
        if sender not in canister.system.controllers:
            raise errors.invalid_controller(canister.id, canister.system.controllers, sender)
        return canister

    def _record(self, canister: CanisterState, sender: Principal, details: dict[str, Any]) -> None:
        canister.system.history.append(
            {
                "timestamp_nanos": self.clock(),
                "canister_version": canister.system.version,
                "origin": {"from_user": {"user_id": sender}},
                "details": details,
            }
        )
        canister.system.history_total += 1
        del canister.system.history[:-MAX_HISTORY]

    # --- creating and deleting ---------------------------------------------------------------------------

    def create(
        self, sender: Principal, settings: dict[str, Any] | None, cycles: int | None, specified_id: Principal | None = None
    ) -> Principal:
        """Create a canister (the work behind both create methods and `Replica.create_canister`)."""
        resolved = apply_settings(Settings(controllers=[sender]), settings or {})
        canister_id = self.canisters.allocate_id(specified_id)
        amount = DEFAULT_PROVISIONAL_CYCLES if cycles is None else cycles
        canister = CanisterState(SystemState(canister_id, resolved, amount))
        self.canisters.add(canister)
        self._record(canister, sender, {"creation": {"controllers": list(resolved.controllers), "environment_variables_hash": None}})
        return canister_id

    def _create_canister(self, args: dict[str, Any], sender: Principal) -> dict[str, Any]:
        return {"canister_id": self.create(sender, args.get("settings"), None)}

    def _provisional_create_canister_with_cycles(self, args: dict[str, Any], sender: Principal) -> dict[str, Any]:
        return {"canister_id": self.create(sender, args.get("settings"), args.get("amount"), args.get("specified_id"))}

    def _delete_canister(self, args: dict[str, Any], sender: Principal) -> None:
        canister = self._controlled(args["canister_id"], sender)
        if canister.system.status is not Status.STOPPED:
            raise Reject.of(ErrorCode.CANISTER_NOT_STOPPED, f"Canister {canister.id} must be stopped before it is deleted.")
        self.canisters.remove(canister.id)

    # --- settings and status --------------------------------------------------------------------------------

    def _update_settings(self, args: dict[str, Any], sender: Principal) -> None:
        canister = self._controlled(args["canister_id"], sender)
        before = list(canister.system.controllers)
        canister.system.settings = apply_settings(canister.system.settings, args["settings"])
        canister.system.version += 1
        if canister.system.controllers != before:
            self._record(canister, sender, {"controllers_change": {"controllers": list(canister.system.controllers)}})
        canister.touch()

    def _start_canister(self, args: dict[str, Any], sender: Principal) -> None:
        canister = self._controlled(args["canister_id"], sender)
        if canister.system.status is not Status.RUNNING:
            stopping = canister.system.status is Status.STOPPING
            canister.system.status = Status.RUNNING
            canister.system.version += 1
            canister.touch()
            if stopping:
                self.stop_cancelled(canister)

    def _stop_canister(self, args: dict[str, Any], sender: Principal) -> None:
        # Without open call contexts a canister stops at once (stopping -> stopped in one step).
        canister = self._controlled(args["canister_id"], sender)
        if canister.system.status is Status.STOPPED:
            return
        if canister.system.status is Status.RUNNING:
            canister.system.status = Status.STOPPING if canister.system.call_contexts.contexts else Status.STOPPED
            canister.system.version += 1
            canister.touch()
        if canister.system.status is Status.STOPPING:
            raise StopPending(canister)

    def deposit(self, arg: bytes, cycles: int) -> None:
        """A canister's deposit_cycles: the cycles it attached go to the canister named."""
        (record,) = candid.decode(arg, METHODS["deposit_cycles"].args)
        target = self.canisters.get(record["canister_id"])
        target.system.cycles += cycles
        target.touch()

    def _canister_status(self, args: dict[str, Any], sender: Principal) -> dict[str, Any]:
        return status_record(self._controlled(args["canister_id"], sender))

    def _canister_info(self, args: dict[str, Any], sender: Principal) -> dict[str, Any]:
        canister = self.canisters.get(args["canister_id"])
        wanted = args.get("num_requested_changes") or 0
        return {
            "total_num_changes": canister.system.history_total,
            "recent_changes": canister.system.history[-wanted:] if wanted else [],
            "module_hash": canister.module_hash,
            "controllers": list(canister.system.controllers),
        }

    def _fetch_canister_logs(self, args: dict[str, Any], sender: Principal) -> dict[str, Any]:
        canister = self.canisters.get(args["canister_id"])
        visibility = canister.system.settings.log_visibility
        allowed = (
            visibility == "public"
            or sender in canister.system.controllers
            or (isinstance(visibility, dict) and sender in visibility.get("allowed_viewers", []))
        )
        if not allowed:
            raise Reject.of(
                ErrorCode.CANISTER_REJECTED_MESSAGE,
                f"Caller {sender} is not allowed to query ic00 method fetch_canister_logs",
            )
        records = [{"idx": r.index, "timestamp_nanos": r.time_ns, "content": r.content} for r in canister.system.logs]
        return {"canister_log_records": records}

    # --- cycles --------------------------------------------------------------------------------------------

    def _provisional_top_up_canister(self, args: dict[str, Any], sender: Principal) -> None:
        canister = self.canisters.get(args["canister_id"])
        canister.system.cycles += args["amount"]
        canister.touch()

    def _deposit_cycles(self, args: dict[str, Any], sender: Principal) -> None:
        self.canisters.get(args["canister_id"])  # the cycles a canister attached move in deposit()

    def _raw_rand(self, args: dict[str, Any], sender: Principal) -> bytes:
        return os.urandom(32)

    # --- code -------------------------------------------------------------------------------------------------

    def install(self, sender: Principal, canister_id: Principal, mode: Any, wasm: bytes, arg: bytes) -> None:
        """install_code: `mode` is the Candid variant value, or "install" | "reinstall" | "upgrade"."""
        canister = self._controlled(canister_id, sender)
        kind, options = _install_mode(mode)
        try:
            module = self.modules.load(wasm)
            now = self.clock()
            if kind == "upgrade":
                if canister.execution_state.instance is None:
                    raise errors.wasm_module_not_found()
                if (options.get("wasm_memory_persistence") or {}) == {"keep": None}:
                    raise Reject.of(
                        ErrorCode.CANISTER_CONTRACT_VIOLATION,
                        "Upgrade option wasm_memory_persistence = keep (enhanced orthogonal persistence) "
                        "is not supported by the icchat local replica.",
                    )
                self.execution.upgrade(canister, module, arg, sender, now, skip_pre_upgrade=bool(options.get("skip_pre_upgrade")))
            else:
                self.execution.install(canister, module, arg, sender, now, reinstall=kind == "reinstall")
        except ExecutionError as exc:
            raise exc.to_reject(canister.id) from None
        self._record(canister, sender, {"code_deployment": {"mode": {kind: None}, "module_hash": module.hash}})

    def _install_code(self, args: dict[str, Any], sender: Principal) -> None:
        self.install(sender, args["canister_id"], args["mode"], args["wasm_module"], args["arg"])

    def _uninstall_code(self, args: dict[str, Any], sender: Principal) -> None:
        canister = self._controlled(args["canister_id"], sender)
        self._uninstall(canister)
        self._record(canister, sender, {"code_uninstall": None})

    def uninstall_unpaid(self, canister: CanisterState) -> None:
        """The system uninstalls the canister: it could not pay for its storage."""
        self._uninstall(canister)
        canister.system.history.append({
            "timestamp_nanos": self.clock(),
            "canister_version": canister.system.version,
            "origin": {"from_canister": {"canister_id": Principal.management(), "canister_version": None}},
            "details": {"code_uninstall": None},
        })
        canister.system.history_total += 1
        del canister.system.history[:-MAX_HISTORY]

    def _uninstall(self, canister: CanisterState) -> None:
        self.execution.uninstall(canister)
        self.code_uninstalled(canister)

    def _upload_chunk(self, args: dict[str, Any], sender: Principal) -> dict[str, Any]:
        canister = self._controlled(args["canister_id"], sender)
        chunk = args["chunk"]
        if len(chunk) > WASM_CHUNK_SIZE:
            raise _chunk_store_error(f"Wasm chunk size {len(chunk)} exceeds the maximum chunk size of {WASM_CHUNK_SIZE}.")
        digest = hashlib.sha256(chunk).digest()
        if digest not in canister.system.chunks and len(canister.system.chunks) >= MAX_WASM_CHUNKS:
            raise _chunk_store_error(f"Wasm chunk store is full: it already holds {MAX_WASM_CHUNKS} chunks.")
        cycles.charge_final_instructions(canister, UPLOAD_CHUNK_INSTRUCTIONS, sender)
        canister.system.chunks[digest] = chunk
        canister.touch()
        return {"hash": digest}

    def _stored_chunks(self, args: dict[str, Any], sender: Principal) -> list[dict[str, Any]]:
        canister = self._controlled(args["canister_id"], sender)
        return [{"hash": digest} for digest in canister.system.chunks]

    def _clear_chunk_store(self, args: dict[str, Any], sender: Principal) -> None:
        canister = self._controlled(args["canister_id"], sender)
        canister.system.chunks.clear()
        canister.touch()

    def _install_chunked_code(self, args: dict[str, Any], sender: Principal) -> None:
        target = args["target_canister"]
        store = self._controlled(args.get("store_canister") or target, sender)
        parts = []
        for entry in args["chunk_hashes_list"]:
            chunk = store.system.chunks.get(entry["hash"])
            if chunk is None:
                raise _chunk_store_error(f"Chunk with hash {entry['hash'].hex()} was not found in the chunk store of canister {store.id}.")
            parts.append(chunk)
        wasm = b"".join(parts)
        if len(wasm) > MAX_WASM_MODULE_SIZE:
            raise Reject.of(
                ErrorCode.CANISTER_INVALID_WASM,
                f"Wasm module size of {len(wasm)} exceeds the maximum allowed size of {MAX_WASM_MODULE_SIZE}.",
            )
        digest = hashlib.sha256(wasm).digest()
        if digest != args["wasm_module_hash"]:
            raise Reject.of(
                ErrorCode.CANISTER_CONTRACT_VIOLATION,
                f"Wasm module hash {digest.hex()} does not match given module hash {args['wasm_module_hash'].hex()}",
            )
        self.install(sender, target, args["mode"], wasm, args["arg"])


def _chunk_store_error(message: str) -> Reject:
    return Reject.of(ErrorCode.CANISTER_CONTRACT_VIOLATION, f"Error from Wasm chunk store: {message}")


def _install_mode(mode: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(mode, str):
        if mode not in ("install", "reinstall", "upgrade"):
            raise ValueError(f"install mode must be 'install', 'reinstall' or 'upgrade', not {mode!r}")
        return mode, {}
    (kind, options), = mode.items()
    return kind, options or {}


def apply_settings(current: Settings, settings: dict[str, Any]) -> Settings:
    """Settings after applying the `opt` fields of a Candid `canister_settings` value."""
    updated = Settings(**vars(current))
    controllers = settings.get("controllers")
    if controllers is not None:
        if len(controllers) > MAX_CONTROLLERS:
            raise Reject.of(
                ErrorCode.CANISTER_CONTRACT_VIOLATION,
                "Could not validate the settings: Invalid settings: 'controllers' length exceeds maximum size "
                f"allowed of {MAX_CONTROLLERS}. ",
            )
        updated.controllers = list(dict.fromkeys(controllers))
    for name in ("compute_allocation", "memory_allocation", "freezing_threshold", "reserved_cycles_limit",
                 "wasm_memory_limit", "wasm_memory_threshold"):
        value = settings.get(name)
        if value is not None:
            setattr(updated, name, value)
    if updated.compute_allocation > 100:
        raise Reject.of(
            ErrorCode.CANISTER_CONTRACT_VIOLATION,
            f"Could not validate the settings: ComputeAllocation expected to be in the range [0..100], got {updated.compute_allocation} ",
        )
    visibility = settings.get("log_visibility")
    if visibility is not None:
        (kind, value), = visibility.items()
        updated.log_visibility = kind if value is None else {kind: list(value)}
    return updated


def status_record(canister: CanisterState) -> dict[str, Any]:
    """The `canister_status_result` of the interface specification."""
    metrics = cycles.memory_metrics(canister)
    settings = canister.system.settings
    visibility = settings.log_visibility
    return {
        "status": {canister.system.status.label: None},
        "settings": {
            "controllers": list(settings.controllers),
            "compute_allocation": settings.compute_allocation,
            "memory_allocation": settings.memory_allocation,
            "freezing_threshold": settings.freezing_threshold,
            "reserved_cycles_limit": settings.reserved_cycles_limit,
            "log_visibility": {visibility: None} if isinstance(visibility, str) else visibility,
            "wasm_memory_limit": settings.wasm_memory_limit,
            "wasm_memory_threshold": settings.wasm_memory_threshold,
            "environment_variables": [],
        },
        "module_hash": canister.module_hash,
        "memory_size": sum(metrics.values()),
        "memory_metrics": metrics,
        "cycles": canister.system.cycles,
        "reserved_cycles": canister.system.reserved_cycles,
        "idle_cycles_burned_per_day": cycles.idle_cycles_per_day(canister),
        "query_stats": {
            "num_calls_total": 0,
            "num_instructions_total": 0,
            "request_payload_bytes_total": 0,
            "response_payload_bytes_total": 0,
        },
    }
