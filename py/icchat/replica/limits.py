"""The IC's limits the local replica enforces (values from the interface spec and the IC repository)."""

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# Instructions per message execution (subnet config: message, query, install_code, inspect).
UPDATE_INSTRUCTION_LIMIT = 40_000_000_000
QUERY_INSTRUCTION_LIMIT = 5_000_000_000
INSTALL_INSTRUCTION_LIMIT = 300_000_000_000
INSPECT_MESSAGE_INSTRUCTION_LIMIT = 200_000_000
SYSTEM_TASK_INSTRUCTION_LIMIT = UPDATE_INSTRUCTION_LIMIT  # heartbeat and global timer

# Message sizes.
MAX_INGRESS_PAYLOAD = 2 * MiB  # an ingress message's argument (the IC refuses larger messages)
MAX_REPLICATED_REPLY = 2 * MiB  # MAX_INTER_CANISTER_PAYLOAD_IN_BYTES: update and replicated query replies
MAX_INTER_CANISTER_PAYLOAD = 2 * MiB  # MAX_INTER_CANISTER_PAYLOAD_IN_BYTES: a call's argument
MAX_NON_REPLICATED_REPLY = 3 * MiB  # MAX_NON_REPLICATED_QUERY_REPLY_SIZE
CERTIFIED_DATA_MAX_LENGTH = 32
MAX_DEBUG_MESSAGE = 32 * KiB
MAX_TRAP_MESSAGE = 16 * KiB

# Memories.
WASM_PAGE = 64 * KiB
OS_PAGE = 4 * KiB
MAX_WASM32_MEMORY = 4 * GiB
MAX_STABLE_MEMORY = 500 * GiB  # MAX_STABLE_MEMORY_IN_BYTES
MAX_32_BIT_STABLE_PAGES = 64 * KiB  # the 32-bit stable API works up to 4 GiB
DEFAULT_WASM_MEMORY_LIMIT = 3 * GiB  # canister setting wasm_memory_limit when not given
# Stable memory pages (4 KiB) a single execution may write / touch (rs/config embedders.rs).
STABLE_DIRTY_LIMIT = {"message": 2 * GiB, "upgrade": 8 * GiB, "query": 1 * GiB}
STABLE_ACCESS_LIMIT = {"message": 2 * GiB, "upgrade": 8 * GiB, "query": 1 * GiB}

# Modules and code install.
MAX_WASM_MODULE_SIZE = 100 * MiB
WASM_CHUNK_SIZE = 1 * MiB
MAX_WASM_CHUNKS = 100  # the chunk store holds at most 100 MiB

# Canisters and settings.
MAX_CONTROLLERS = 10
DEFAULT_PROVISIONAL_CYCLES = 100_000_000_000_000
DEFAULT_FREEZING_THRESHOLD = 2_592_000  # 30 days, in seconds
DEFAULT_RESERVED_CYCLES_LIMIT = 5_000_000_000_000

# HTTPS outcalls (interface spec "IC method http_request"; dfinity/ic rs/types/types/src/canister_http.rs).
MAX_HTTP_REQUEST_BYTES = 2_000_000  # header names and values plus the body of the canister's request
MAX_HTTP_RESPONSE_BYTES = 2_000_000  # the upper limit of max_response_bytes, and its default
MAX_HTTP_URL_SIZE = 8192
MAX_HTTP_HEADERS = 64
MAX_HTTP_HEADER_NAME_VALUE = 8 * KiB  # one header name, or one value
MAX_HTTP_HEADERS_TOTAL = 48 * KiB  # all header names and values together
HTTP_OUTCALL_TIMEOUT_S = 30.0  # the adapter's limit on one request, from connecting to the body's last byte
HTTP_CONNECT_TIMEOUT_S = 2.0  # the adapter's limit on opening the TCP connection (within the above)
