"""The local replica: canisters, the management canister, time, timers, and persistence.

    replica = Replica()                                  # in memory; Replica(state_dir=...) persists
    cid = replica.create_canister(controllers=[me], cycles=10**12)
    replica.install_code(cid, wasm, arg, mode="install", sender=me)
    replica.update(cid, "inc", b"DIDL\\0\\0", sender=me)   # -> reply bytes, or raises Reject
    replica.query(cid, "get", b"DIDL\\0\\0")

All public methods are thread-safe: one lock serializes executions (as one IC subnet executes
one message per canister at a time). `tick()` runs due global timers and heartbeats; `start()`
runs it in a background thread together with debounced checkpoints.

The replica loads its own keys (persisted in the state directory, fresh when in memory) and
signs with them (`certification`). Seam for the HTTP interface (`icchat.replica.http`): it calls
`inspect_message` when accepting an ingress call and `update(..., inspect=False)` to execute it,
`query` for queries, and reads `certificate()`, `time_ns()`, `subnet_id`, `canister_ranges` and
`certification`. Below it (docs/replica.md): the canisters' state as plain data (`state`,
`canisters`), executions over it (`execution_environment`), the management canister and
persistence, each given the parts it works on, never the replica.

Inter-canister calls: `submit_update` inducts an ingress message and runs it, and every message
it causes that can run now, through the scheduler (icchat.replica.scheduler); it returns a
`PendingCall` that is done once the message's call context has responded. `update` waits for
it, off the lock: a call waiting on an HTTPS outcall (sent in a thread of its own) lets every
other call run meanwhile. Never wait for one while holding `replica.lock` yourself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import wasmtime

from icchat.ic import prices
from icchat.ic.principal import Principal
from icchat.replica import cycles, errors
from icchat.replica.api_table import Mode
from icchat.replica.canisters import Canisters
from icchat.replica.certification import CanisterInfo, Certification, TreePath
from icchat.replica.errors import ExecutionError, IngressTooLarge
from icchat.replica.execution_environment import ExecutionEnvironment, Subnet
from icchat.replica.keys import ReplicaKeys
from icchat.replica.limits import MAX_INGRESS_PAYLOAD, SYSTEM_TASK_INSTRUCTION_LIMIT
from icchat.replica.management import ManagementCanister, status_record
from icchat.replica.meter import configure_engine
from icchat.replica.module import ModuleCache
from icchat.replica.persistence import StateStore
from icchat.replica.scheduler import OutcallService, PendingCall, Scheduler, reply_of
from icchat.replica.state import CanisterState, Status

log = logging.getLogger("icchat.replica")

MANAGEMENT = Principal.management()
ANONYMOUS = Principal.anonymous()
CHECKPOINT_DEBOUNCE = 1.0  # seconds of quiet before a checkpoint after a message


class Replica:
    def __init__(
        self, state_dir: str | Path | None = None, *, clean: bool = False, print_debug: bool = False,
        outcalls: OutcallService | None = None,
    ) -> None:
        """`outcalls`: what sends HTTPS outcalls (default: icchat.replica.outcalls' service)."""
        self.lock = threading.RLock()
        self._outcalls = outcalls
        config = wasmtime.Config()
        configure_engine(config)
        # The dirty-page tracker needs the heap to be plain anonymous memory at a fixed address.
        config.memory_init_cow = False
        config.memory_may_move = False
        engine = wasmtime.Engine(config)
        self.canisters = Canisters()
        self.modules = ModuleCache(engine)
        self._last_time = 0
        self._time_offset = 0
        self._dirty_since: float | None = None
        self._scheduler: threading.Thread | None = None
        self._stop = threading.Event()
        self._store = StateStore(Path(state_dir), clean=clean) if state_dir is not None else None
        try:
            self.certification = Certification(ReplicaKeys.load_or_create(self.state_dir))
            self.subnet_id = self.certification.subnet_id
            subnet = Subnet(engine, self.subnet_id, self.certification.root_key_der(), print_debug)
            self.execution = ExecutionEnvironment(subnet)
            self.management = ManagementCanister(self.canisters, self.execution, self.modules, self.time_ns)
            self.scheduler = Scheduler(self.canisters, self.execution, self.management, self.time_ns, self.lock,
                                       self._outcall_service, self._mark_dirty)
            if self._store is not None:
                self._load()
        except BaseException:
            if self._store is not None:
                self._store.close()
            raise

    def _outcall_service(self) -> OutcallService:
        if self._outcalls is None:
            from icchat.replica.outcalls import OutcallService as Service

            self._outcalls = Service()
        return self._outcalls

    @property
    def canister_ranges(self) -> list[tuple[Principal, Principal]]:
        return self.canisters.ranges

    # --- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the scheduler, write a final checkpoint and release the state directory."""
        self.stop()
        with self.lock:
            if self._store is not None:
                self.checkpoint()
                self._store.close()
                self._store = None
            self.canisters.clear()

    def start(self, interval: float = 0.5) -> None:
        """Run `tick()` and debounced checkpoints in a background thread."""
        if self._scheduler is not None:
            return
        self._stop.clear()
        self._scheduler = threading.Thread(target=self._run_scheduler, args=(interval,), name="icchat-replica", daemon=True)
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler is None:
            return
        self._stop.set()
        self._scheduler.join()
        self._scheduler = None

    def _run_scheduler(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.tick()
                self._maybe_checkpoint()
            except Exception:  # keep serving; the cause is in the log
                log.exception("replica scheduler step failed")

    # --- time -----------------------------------------------------------------------------------------

    def time_ns(self) -> int:
        """Replica time: wall clock (plus any test offset), strictly increasing."""
        with self.lock:
            now = max(time.time_ns() + self._time_offset, self._last_time + 1)
            self._last_time = now
            return now

    def advance_time(self, seconds: float) -> None:
        """Move replica time forward (tests of timers)."""
        with self.lock:
            self._time_offset += int(seconds * 1_000_000_000)

    # --- canisters ----------------------------------------------------------------------------------------

    def create_canister(
        self,
        controllers: Iterable[Principal] | None = None,
        cycles: int | None = None,
        *,
        sender: Principal = ANONYMOUS,
        settings: dict[str, Any] | None = None,
        specified_id: Principal | None = None,
    ) -> Principal:
        """Create an empty canister (provisionally, with `cycles`); controllers default to `sender`."""
        merged = dict(settings or {})
        if controllers is not None:
            merged["controllers"] = list(controllers)
        with self.lock:
            canister_id = self.management.create(sender, merged, cycles, specified_id)
            self._checkpoint_now()
            return canister_id

    def install_code(
        self, canister_id: Principal, wasm: bytes, arg: bytes = b"", mode: str = "install", *, sender: Principal = ANONYMOUS,
        skip_pre_upgrade: bool = False,
    ) -> None:
        """install / reinstall / upgrade; raises Reject as the management canister would."""
        kind: Any = mode
        if mode == "upgrade":
            kind = {"upgrade": {"skip_pre_upgrade": skip_pre_upgrade, "wasm_memory_persistence": None}}
        with self.lock:
            try:
                self.management.install(sender, canister_id, kind, wasm, arg)
            finally:
                self._checkpoint_now()

    def canister(self, canister_id: Principal) -> CanisterState:
        with self.lock:
            return self.canisters.get(canister_id)

    def canister_ids(self) -> list[Principal]:
        with self.lock:
            return self.canisters.ids()

    def canister_status(self, canister_id: Principal) -> dict[str, Any]:
        """The management canister's `canister_status` record (without the controller check)."""
        with self.lock:
            return status_record(self.canister(canister_id))

    def canister_info(self, canister_id: Principal) -> CanisterInfo:
        with self.lock:
            return _info(self.canister(canister_id))

    def certified_state(self) -> list[CanisterInfo]:
        """Every canister's certifiable facts, taken atomically (for the HTTP layer's state tree)."""
        with self.lock:
            return [_info(c) for c in self.canisters.all()]

    def root_key_der(self) -> bytes:
        return self.certification.root_key_der()

    def certificate(self, paths: Iterable[TreePath], request_statuses: dict[bytes, Any]) -> bytes:
        """A certificate of the replica's state tree revealing `paths` (and `/time`);
        `request_statuses` are the HTTP layer's, for the requests asked about."""
        now = self.time_ns()
        return self.certification.certificate(paths, now, self.certified_state(), self.canister_ranges, request_statuses)

    @property
    def state_dir(self) -> Path | None:
        """Where this replica persists (None when in memory)."""
        return self._store.root if self._store is not None else None

    # --- calls ----------------------------------------------------------------------------------------------

    def update(
        self, canister_id: Principal, method: str, arg: bytes = b"", *, sender: Principal = ANONYMOUS, inspect: bool = True,
        ingress_bytes: int | None = None,
    ) -> bytes:
        """An ingress update call; returns the reply bytes or raises `Reject`, once the call
        context it opened has responded (after the calls it made have come back)."""
        pending = self.submit_update(canister_id, method, arg, sender=sender, inspect=inspect, ingress_bytes=ingress_bytes)
        return pending.result()

    def submit_update(
        self, canister_id: Principal, method: str, arg: bytes = b"", *, sender: Principal = ANONYMOUS, inspect: bool = True,
        ingress_bytes: int | None = None,
    ) -> PendingCall:
        """Induct and run an ingress update call and what it causes that can run now; raises
        `Reject` if it is not inducted. The receiving canister pays the message's induction
        (`ingress_bytes`: the signed HTTP request's size, which the HTTP layer passes; method
        name + argument when not given) and its execution (docs/replica.md, "Cycles")."""
        _check_ingress(method, arg)
        size = len(method.encode()) + len(arg) if ingress_bytes is None else ingress_bytes
        with self.lock:
            if canister_id == MANAGEMENT:
                try:
                    return self.scheduler.ingress_to_management(method, arg, sender, size)
                finally:
                    self._checkpoint_now()
            canister = self._runnable(canister_id)
            try:
                if inspect:
                    cycles.check_ingress(canister, size, sender)
                    self.execution.inspect_message(canister, method, arg, sender, self.time_ns())
            except ExecutionError as exc:
                raise exc.to_reject(canister.id) from None
            cycles.charge_ingress(canister, size, sender)
            self._mark_dirty()
            return self.scheduler.ingress(canister, method, arg, sender)

    def inspect_message(
        self, canister_id: Principal, method: str, arg: bytes = b"", *, sender: Principal = ANONYMOUS,
        ingress_bytes: int | None = None,
    ) -> None:
        """Would the replica take this ingress message? Raises Reject if not (never persists):
        the ingress filter (can the paying canister afford its induction?) then
        `canister_inspect_message`."""
        _check_ingress(method, arg)
        size = len(method.encode()) + len(arg) if ingress_bytes is None else ingress_bytes
        with self.lock:
            if canister_id == MANAGEMENT:
                payer = self.management.ingress_payer(method, arg)
                if payer is not None:
                    cycles.check_ingress(payer, size, sender)
                return
            canister = self._runnable(canister_id)
            cycles.check_ingress(canister, size, sender)
            try:
                self.execution.inspect_message(canister, method, arg, sender, self.time_ns())
            except ExecutionError as exc:
                raise exc.to_reject(canister.id) from None

    def query(self, canister_id: Principal, method: str, arg: bytes = b"", *, sender: Principal = ANONYMOUS) -> bytes:
        """A query call (non-replicated; never persists); returns reply bytes or raises Reject."""
        with self.lock:
            if canister_id == MANAGEMENT:
                return self.management.call(method, arg, sender, replicated=False)
            canister = self._runnable(canister_id)
            cycles.check_query(canister)
            now = self.time_ns()
            certification, certified_data = self.certification, canister.system.certified_data

            def certificate() -> bytes:  # signed only if the canister asks for it
                return certification.data_certificate(canister.id, certified_data, now)

            try:
                outcome = self.execution.execute_query(canister, method, arg, sender, now, certificate)
            except ExecutionError as exc:
                raise exc.to_reject(canister.id) from None
            return reply_of(canister.id, outcome)

    def _runnable(self, canister_id: Principal) -> CanisterState:
        canister = self.canister(canister_id)
        if canister.system.status is Status.STOPPED:
            raise errors.canister_stopped(canister.id)
        if canister.system.status is Status.STOPPING:
            raise errors.canister_stopping(canister.id)
        if canister.module is None:
            raise errors.wasm_module_not_found().to_reject(canister.id)
        return canister

    # --- timers and heartbeats ---------------------------------------------------------------------------------

    def tick(self) -> int:
        """Charge storage held over time, then run every due global timer and one heartbeat per
        canister that can pay for it; returns how many ran."""
        ran = 0
        with self.lock:
            for canister in self.canisters.all():
                self._charge_idle(canister)
                system = canister.system
                if system.status is not Status.RUNNING or canister.module is None:
                    continue
                now = self.time_ns()
                due = system.global_timer and now >= system.global_timer
                if due and canister.module.has_system("canister_global_timer") and _can_run_task(canister):
                    system.global_timer = 0  # deactivated once scheduled, as on the IC
                    canister.touch()
                    ran += self._system_task(canister, Mode.GLOBAL_TIMER)
                if canister.module.has_system("canister_heartbeat") and _can_run_task(canister):
                    ran += self._system_task(canister, Mode.HEARTBEAT)
        return ran

    def _charge_idle(self, canister: CanisterState) -> None:
        """Storage fees since the last charge; a canister that cannot pay them is uninstalled and
        its remaining balance burned, as on the IC."""
        before = canister.system.cycles
        if not cycles.charge_idle(canister, self.time_ns()):
            log.warning("canister %s could not pay for its storage: uninstalled", canister.id)
            if canister.module is not None:
                self.management.uninstall_unpaid(canister)
                self.scheduler.drain()  # the rejects of its open call contexts
        if canister.system.cycles != before:
            self._mark_dirty()

    def _system_task(self, canister: CanisterState, mode: Mode) -> int:
        self.scheduler.system_task(canister, mode)
        self._mark_dirty()
        return 1

    # --- persistence -----------------------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Write changed state to the state directory now (no-op when in memory)."""
        with self.lock:
            if self._store is None:
                return
            self._store.checkpoint(self._persistent_meta(), self.canisters.all())
            self._dirty_since = None

    def _checkpoint_now(self) -> None:
        if self._store is not None:
            self.checkpoint()

    def _mark_dirty(self) -> None:
        if self._dirty_since is None:
            self._dirty_since = time.monotonic()

    def _maybe_checkpoint(self) -> None:
        with self.lock:
            if self._dirty_since is not None and time.monotonic() - self._dirty_since >= CHECKPOINT_DEBOUNCE:
                self.checkpoint()

    def _persistent_meta(self) -> dict[str, Any]:
        return {"next_canister_index": self.canisters.next_index, "time_ns": self._last_time}

    def _load(self) -> None:
        assert self._store is not None
        meta = self._store.manifest.get("replica", {})
        self.canisters.next_index = meta.get("next_canister_index", self.canisters.next_index)
        self._last_time = meta.get("time_ns", 0)
        for canister in self._store.load(self.modules, self.execution.restore):
            if canister.system.status is Status.STOPPING:  # calls in flight are not kept: none is open
                canister.system.status = Status.STOPPED
            self.canisters.add(canister)


def _can_run_task(canister: CanisterState) -> bool:
    """Heartbeats and timers run only if the canister can prepay them above its freezing threshold
    (a frozen canister's timer stays set until a top-up)."""
    try:
        cycles.ensure_can_pay(canister, prices.update_execution_cycles(SYSTEM_TASK_INSTRUCTION_LIMIT), MANAGEMENT)
    except cycles.OutOfCycles:
        return False
    return True


def _check_ingress(method: str, arg: bytes) -> None:
    size = len(arg) + len(method.encode())
    if size > MAX_INGRESS_PAYLOAD:
        raise IngressTooLarge(
            errors.RejectCode.SYS_FATAL,
            f"Ingress message of {size} bytes (argument and method name) exceeds the limit of {MAX_INGRESS_PAYLOAD} bytes; "
            "upload large data in chunks (e.g. upload_chunk + install_chunked_code for modules).",
        )


def _info(canister: CanisterState) -> CanisterInfo:
    system = canister.system
    return CanisterInfo(
        canister_id=canister.id,
        status=system.status.label,
        controllers=tuple(system.controllers),
        module_hash=canister.module_hash,
        certified_data=system.certified_data,
        cycles=system.cycles,
        version=system.version,
    )
