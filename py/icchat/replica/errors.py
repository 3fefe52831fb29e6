"""Rejects as the IC reports them: reject codes, `IC0xxx` error codes and the IC's wording.

A failed execution is an `ExecutionError` (the IC's `HypervisorError`): a description plus the
help the IC appends. `to_reject(canister_id)` renders it exactly like the IC's
`into_user_error`: "Error from Canister <id>: <description>.\n<help>" (no help: no period).
Wording follows the IC repository (rs/interfaces/src/execution_environment/errors.rs,
rs/types/wasm_types/src/errors.rs, rs/embedders/.../system_api.rs, canister_manager).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from icchat.ic.principal import Principal


class RejectCode(enum.IntEnum):
    """Interface spec "Reject codes"."""

    SYS_FATAL = 1
    SYS_TRANSIENT = 2
    DESTINATION_INVALID = 3
    CANISTER_REJECT = 4
    CANISTER_ERROR = 5
    SYS_UNKNOWN = 6


class ErrorCode(enum.Enum):
    """The IC's user-facing error codes (rs/types/error_types); the value is the `IC0xxx` label."""

    SUBNET_OVERSUBSCRIBED = "IC0101"
    MAX_NUMBER_OF_CANISTERS_REACHED = "IC0102"
    CANISTER_ID_ALREADY_EXISTS = "IC0205"
    CANISTER_OUT_OF_CYCLES = "IC0207"
    CANISTER_NOT_FOUND = "IC0301"
    INSUFFICIENT_MEMORY_ALLOCATION = "IC0402"
    CANISTER_REJECTED_MESSAGE = "IC0406"
    UNKNOWN_MANAGEMENT_MESSAGE = "IC0407"
    INVALID_MANAGEMENT_PAYLOAD = "IC0408"
    CANISTER_TRAPPED = "IC0502"
    CANISTER_CALLED_TRAP = "IC0503"
    CANISTER_CONTRACT_VIOLATION = "IC0504"
    CANISTER_INVALID_WASM = "IC0505"
    CANISTER_DID_NOT_REPLY = "IC0506"
    CANISTER_OUT_OF_MEMORY = "IC0507"
    CANISTER_STOPPED = "IC0508"
    CANISTER_STOPPING = "IC0509"
    CANISTER_NOT_STOPPED = "IC0510"
    CANISTER_STOPPING_CANCELLED = "IC0511"
    CANISTER_INVALID_CONTROLLER = "IC0512"
    CANISTER_FUNCTION_NOT_FOUND = "IC0513"
    CANISTER_NON_EMPTY = "IC0514"
    CANISTER_WASM_ENGINE_ERROR = "IC0521"
    CANISTER_INSTRUCTION_LIMIT_EXCEEDED = "IC0522"
    CANISTER_MEMORY_ACCESS_LIMIT_EXCEEDED = "IC0524"
    COMPOSITE_QUERY_CALLED_IN_REPLICATED_MODE = "IC0527"
    CANISTER_METHOD_NOT_FOUND = "IC0536"
    CANISTER_WASM_MODULE_NOT_FOUND = "IC0537"
    CANISTER_WASM_MEMORY_LIMIT_EXCEEDED = "IC0539"

    @property
    def reject_code(self) -> RejectCode:
        """The IC derives the reject code from the error code's first digit."""
        return RejectCode(int(self.value[3]))


class Reject(Exception):
    """A call that did not produce a reply: IC reject code 1-6, message, and `IC0xxx` error code."""

    def __init__(self, code: int, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.code = RejectCode(code)
        self.message = message
        self.error_code = error_code

    @classmethod
    def of(cls, error_code: ErrorCode, message: str) -> Reject:
        return cls(error_code.reject_code, message, error_code.value)

    def __str__(self) -> str:
        label = f", error code {self.error_code}" if self.error_code else ""
        return f"reject code {int(self.code)} ({self.code.name}){label}: {self.message}"

    def __repr__(self) -> str:
        return f"Reject(code={int(self.code)}, error_code={self.error_code!r}, message={self.message!r})"


class IngressTooLarge(Reject):
    """An ingress message over the size limit: refused before it reaches any canister (HTTP 413)."""


# --- execution errors (the IC's HypervisorError) ---------------------------------------------------

DOCS = "http://internetcomputer.org/docs/current/references/execution-errors#"
TOOLCHAIN_HELP = (
    "This is likely an error with the compiler/CDK toolchain being used to build the canister. "
    "Please report the error to IC devs on the forum: https://forum.dfinity.org and include "
    "which language/CDK was used to create the canister."
)


def user_help(suggestion: str, section: str) -> str:
    return f"{suggestion} See documentation: {DOCS}{section}" if suggestion else ""


TRAP_HELP = "Consider gracefully handling failures from this canister or altering the canister to handle exceptions."


@dataclass
class ExecutionError(Exception):
    """Why an execution failed, worded as the IC words it."""

    error_code: ErrorCode
    description: str
    help: str = ""

    def __str__(self) -> str:
        return self.description

    def to_reject(self, canister_id: Principal) -> Reject:
        if self.help:
            message = f"Error from Canister {canister_id}: {self.description}.\n{self.help}"
        else:
            message = f"Error from Canister {canister_id}: {self.description}"
        return Reject.of(self.error_code, message)


def called_trap(message: str) -> ExecutionError:
    return ExecutionError(
        ErrorCode.CANISTER_CALLED_TRAP,
        f"Canister called `ic0.trap` with message: '{message}'",
        user_help(TRAP_HELP, "trapped-explicitly"),
    )


class TrapCode(enum.Enum):
    """How a canister trapped (the IC's TrapCode display strings)."""

    STACK_OVERFLOW = "stack overflow"
    HEAP_OUT_OF_BOUNDS = "heap out of bounds"
    STABLE_MEMORY_OUT_OF_BOUNDS = "stable memory out of bounds"
    STABLE_MEMORY_TOO_BIG_FOR_32_BIT = "32 bit stable memory api used on a memory larger than 4GB"
    INTEGER_DIV_BY_ZERO = "integer division by 0"
    UNREACHABLE = "unreachable"
    TABLE_OUT_OF_BOUNDS = "table out of bounds"
    CYCLES_AMOUNT_TOO_BIG_FOR_64_BIT = "cycles amount exceeds 64-bit representation"
    OTHER = "unknown"


def trapped(code: TrapCode) -> ExecutionError:
    return ExecutionError(
        ErrorCode.CANISTER_TRAPPED, f"Canister trapped: {code.value}", user_help(TRAP_HELP, "trapped")
    )


def contract_violation(error: str) -> ExecutionError:
    """A violation the IC attributes to the toolchain (ToolchainContractViolation)."""
    return ExecutionError(ErrorCode.CANISTER_CONTRACT_VIOLATION, f"Canister violated contract: {error}", TOOLCHAIN_HELP)


def user_contract_violation(error: str, suggestion: str = "", section: str = "") -> ExecutionError:
    """A violation the IC attributes to the canister developer (UserContractViolation)."""
    return ExecutionError(
        ErrorCode.CANISTER_CONTRACT_VIOLATION, f"Canister violated contract: {error}", user_help(suggestion, section)
    )


def wrong_mode(function: str, mode: str) -> ExecutionError:
    """A System API function called where the IC forbids it, e.g. certified_data_set in a query."""
    return user_contract_violation(
        f'"ic0_{function}" cannot be executed in {mode} mode',
        "Check the ICP documentation to make sure APIs are being called in the correct message types.",
        "calling-a-system-api-from-the-wrong-mode",
    )


def instruction_limit_exceeded(limit: int) -> ExecutionError:
    return ExecutionError(
        ErrorCode.CANISTER_INSTRUCTION_LIMIT_EXCEEDED,
        f"Canister exceeded the limit of {limit} instructions for single message execution.",
        user_help(
            "Try optimizing this method to consume fewer instructions or split the work across multiple messages.",
            "instruction-limit-exceeded",
        ),
    )


def method_not_found(kind: str, name: str) -> ExecutionError:
    return ExecutionError(
        ErrorCode.CANISTER_METHOD_NOT_FOUND,
        f"Canister has no {kind} method '{name}'.",
        user_help("Check that the method being called is exported by the target canister.", "method-not-found"),
    )


def wasm_module_not_found() -> ExecutionError:
    return ExecutionError(
        ErrorCode.CANISTER_WASM_MODULE_NOT_FOUND,
        "Attempted to execute a message, but the canister contains no Wasm module.",
        user_help("Please install code to this canister before calling it.", "wasm-module-not-found"),
    )


def invalid_wasm(reason: str, *, toolchain: bool = True, help: str = "") -> ExecutionError:
    return ExecutionError(
        ErrorCode.CANISTER_INVALID_WASM,
        f"Canister's Wasm module is not valid: {reason}",
        TOOLCHAIN_HELP if toolchain and not help else help,
    )


def memory_access_limit_exceeded(what: str, limit_bytes: int) -> ExecutionError:
    return ExecutionError(
        ErrorCode.CANISTER_MEMORY_ACCESS_LIMIT_EXCEEDED,
        "Canister exceeded memory access limits: Exceeded the limit for the number of "
        f"{what} pages in the stable memory in a single message execution: limit: {limit_bytes // 1024} KB.",
        user_help(
            "Try optimizing the use of stable memory so that individual messages don't need to access as much stable memory.",
            "memory-access-limit-exceeded",
        ),
    )


def wasm_memory_limit_exceeded(used: int, limit: int) -> ExecutionError:
    return ExecutionError(
        ErrorCode.CANISTER_WASM_MEMORY_LIMIT_EXCEEDED,
        f"Canister exceeded its current Wasm memory limit of {limit} bytes. The peak Wasm memory usage "
        f"was {used} bytes. If the canister reaches 4GiB, then it may stop functioning and may become "
        "unrecoverable. Please reach out to the canister owner to investigate the reason for the increased "
        "memory usage. It might be necessary to move data from the Wasm memory to the stable memory. If such "
        "high Wasm memory usage is expected and safe, then the developer can increase the Wasm memory limit "
        "in the canister settings.",
        user_help(
            "Try checking the canister for a possible memory leak or modifying it to use more stable memory instead of Wasm memory.",
            "wasm-memory-limit-exceeded",
        ),
    )


def message_rejected() -> ExecutionError:
    """`canister_inspect_message` did not accept the message."""
    return ExecutionError(ErrorCode.CANISTER_REJECTED_MESSAGE, "Canister rejected the message")


def engine_error(detail: str) -> ExecutionError:
    return ExecutionError(ErrorCode.CANISTER_WASM_ENGINE_ERROR, f"Canister encountered a Wasm engine error: {detail}")


# --- rejects not produced by executing canister code ------------------------------------------------


def install_out_of_cycles(reason: str) -> Reject:
    """install_code could not prepay its instruction limit (CanisterManagerError::InstallCodeNotEnoughCycles)."""
    return Reject.of(
        ErrorCode.CANISTER_OUT_OF_CYCLES,
        f"Canister installation failed with `{reason}`.\n"
        + user_help("Top up the canister with more cycles.", "install-code-not-enough-cycles"),
    )


def canister_not_found(canister_id: Principal) -> Reject:
    return Reject.of(ErrorCode.CANISTER_NOT_FOUND, f"Canister {canister_id} not found")


def canister_stopped(canister_id: Principal) -> Reject:
    return Reject.of(ErrorCode.CANISTER_STOPPED, f"Canister {canister_id} is stopped")


def canister_stopping(canister_id: Principal) -> Reject:
    return Reject.of(ErrorCode.CANISTER_STOPPING, f"Canister {canister_id} is stopping")


def did_not_reply(canister_id: Principal) -> Reject:
    return Reject.of(ErrorCode.CANISTER_DID_NOT_REPLY, f"Canister {canister_id} did not reply to the call")


def canister_reject(message: str) -> Reject:
    """The canister called `ic0.msg_reject`: CANISTER_REJECT with its message, as on the IC."""
    return Reject.of(ErrorCode.CANISTER_REJECTED_MESSAGE, message)


def invalid_controller(canister_id: Principal, controllers: list[Principal], sender: Principal) -> Reject:
    listed = " ".join(str(c) for c in controllers)
    return Reject.of(
        ErrorCode.CANISTER_INVALID_CONTROLLER,
        f"Only the controllers of the canister {canister_id} can control it.\n"
        f"Canister's controllers: {listed}\nSender's ID: {sender}",
    )
