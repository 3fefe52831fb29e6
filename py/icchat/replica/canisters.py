"""The subnet's canisters by id, and the ids it hands out (the IC's canister_states with the
subnet's canister id range)."""

from __future__ import annotations

from icchat.ic.principal import Principal
from icchat.replica import errors
from icchat.replica.errors import ErrorCode, Reject
from icchat.replica.state import CanisterState

FIRST_CANISTER_INDEX = 0
LAST_CANISTER_INDEX = 0xFFFFF  # one subnet's range: 2^20 canister ids


class Canisters:
    def __init__(self) -> None:
        self.ranges = [
            (Principal.from_canister_index(FIRST_CANISTER_INDEX), Principal.from_canister_index(LAST_CANISTER_INDEX))
        ]
        self.next_index = FIRST_CANISTER_INDEX
        self._states: dict[Principal, CanisterState] = {}

    def get(self, canister_id: Principal) -> CanisterState:
        canister = self._states.get(canister_id)
        if canister is None:
            raise errors.canister_not_found(canister_id)
        return canister

    def ids(self) -> list[Principal]:
        return list(self._states)

    def all(self) -> list[CanisterState]:
        return list(self._states.values())

    def add(self, canister: CanisterState) -> None:
        self._states[canister.id] = canister

    def remove(self, canister_id: Principal) -> None:
        self._states.pop(canister_id).execution_state.release()

    def clear(self) -> None:
        for canister in self._states.values():
            canister.execution_state.release()
        self._states.clear()

    def allocate_id(self, specified: Principal | None = None) -> Principal:
        if specified is not None:
            try:
                specified.canister_index()
            except ValueError:
                raise Reject.of(
                    ErrorCode.CANISTER_CONTRACT_VIOLATION, f"Specified ID {specified} is not a valid canister id"
                ) from None
            if specified in self._states:
                raise Reject.of(ErrorCode.CANISTER_ID_ALREADY_EXISTS, f"Canister {specified} is already installed")
            return specified
        while True:
            if self.next_index > LAST_CANISTER_INDEX:
                raise Reject.of(
                    ErrorCode.SUBNET_OVERSUBSCRIBED, "Could not create canister. Subnet has surpassed its canister ID allocation."
                )
            candidate = Principal.from_canister_index(self.next_index)
            self.next_index += 1
            if candidate not in self._states:
                return candidate
