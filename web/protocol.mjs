// The chat worker's protocol: every message between the page (page-worker-client.mjs) and the chat worker
// (worker.js) is a plain object with a `type`, described here once. The worker's reply events
// (`delta`, `done`) are icchat.chat's own dicts (py/icchat/chat/worker.py), passed on as JS
// objects with their snake_case fields unrenamed.

/** The model's two precisions: 8-bit weights or 32-bit floats (the manifest's `variant`). */
export const PRECISIONS = ["q8", "f32"];

/** The two engines that run the model on this device (web/engine.mjs, web/ort-engine.mjs). */
export const ENGINES = ["icchat", "onnxruntime-web"];

/** The engine setting: auto (the faster of the two on this device, measured once per model,
 * precision and thread count), or one of ENGINES. */
export const ENGINE_CHOICES = ["auto", ...ENGINES];

/** Where an answer is computed: this device, the gpt2 canister (fast: its replicas' plain
 * queries; verified: updates, agreed by the subnet), or an LLM service the route canister asks
 * (icchat.chat.llm_service: the whole answer at once, no streaming). */
export const BACKENDS = ["device", "onchain-fast", "onchain-verified", "llm-service"];

/**
 * What went wrong, so the page can explain it and offer the way forward (it never reads the
 * message's text for this):
 * - config: config.json / build.json missing or wrong (redeploy the page)
 * - unreachable: the model host or the IC cannot be reached
 * - integrity: a model file does not match the manifest (refused, nothing run)
 * - uncertified: the manifest is not the one the gpt2 canister certifies (nothing loaded)
 * - manifest: the manifest is not a usable icchat model bundle
 * - memory: this device ran out of memory
 * - runtime: Python, the agent or an engine failed to start or crashed
 * - generate: the on-device reply failed
 * - onchain: an onchain call failed
 * - service: the LLM service did not answer through the route canister (`message` is its line)
 * - refused: the gpt2 or the route canister turned the call down (`message` is its own line)
 */
export const ERROR_KINDS = ["config", "unreachable", "integrity", "uncertified", "manifest", "memory", "runtime", "generate", "onchain", "service", "refused"];

/** Messages the page sends to the worker. */
export const TO_WORKER = ["init", "generate", "stop", "switch", "usage", "forget"];

/** Messages the worker sends to the page. */
export const TO_PAGE = ["log", "config", "status", "plan", "progress", "ready", "engines", "snapshot", "delta", "done", "error", "usage", "forgotten"];

/** The start-up phases a `status` names, in init's order (the device's weights and session run
 * beside the chat's python); "ready" ends them. */
export const STATUS_PHASES = ["config", "runtime", "weights", "session", "python", "ready"];

/** Why a reply ended (`done.stop_reason`): icchat.chat.runtime.STOP_REASONS (a test keeps them equal). */
export const STOP_REASONS = ["eot", "stop_string", "max_tokens", "context", "cancelled", "error"];

// ---- page -> worker --------------------------------------------------------------------------

/**
 * @typedef {"q8" | "f32"} Precision
 * @typedef {"icchat" | "onnxruntime-web"} Engine
 * @typedef {"auto" | Engine} EngineChoice
 * @typedef {"device" | "onchain-fast" | "onchain-verified" | "llm-service"} Backend
 * @typedef {{icchat?: number, "onnxruntime-web"?: number}} Speeds  ms per decoded token of each engine
 */

/**
 * Start: read config.json, certify the manifest, boot Python on the tokenizer and connect to the
 * gpt2 canister (a first `ready`: onchain answers), load the model (a second `ready`: the
 * device's). Progress of the model file's download arrives on `progressPort` (from
 * web/weights-worker.js's thread).
 * @typedef {object} InitMessage
 * @property {"init"} type
 * @property {Precision} precision
 * @property {EngineChoice} engine
 * @property {Record<string, Speeds>} speeds  what `engines` reported on earlier visits, by key
 * @property {boolean} debug  relay the worker's console to the page (`log`)
 * @property {MessagePort} progressPort
 * @property {Uint8Array} [identitySeed]  32 bytes: the page's onchain identity (kept by the page)
 * @property {string} pageUrl  the page's URL (the network and canisters come from it)
 * @property {number} [threads]  threads for either engine (a benchmark's choice; default 2..4)
 * @property {number | null} [memoryBudget]  bytes the on-device model may use (web/device-fit.mjs;
 *   null: unknown): a model file needing more (weights.js memoryNeed) is not loaded
 * @property {boolean} [small]  a phone or a small device (device-fit.mjs): auto never times the
 *   other engine there (it would hold both models at once)
 */

/**
 * @typedef {object} ChatMessage
 * @property {"user" | "assistant"} role
 * @property {string} text
 * @property {Backend} [origin]  which backend wrote an assistant message
 */

/**
 * @typedef {object} Settings  icchat.chat.Settings.from_dict's fields
 * @property {number} temperature
 * @property {number} top_k
 * @property {number} top_p
 * @property {number} max_new_tokens
 * @property {number | string | null} [seed]
 */

/**
 * Write the assistant's next turn; `delta`s then one `done` (or an `error`) answer it.
 * @typedef {object} GenerateMessage
 * @property {"generate"} type
 * @property {string | number} id
 * @property {{messages: ChatMessage[]}} conversation
 * @property {Settings} settings
 * @property {Backend} backend
 */

/**
 * End the reply `id`: the only stop channel. The generation loop yields to the worker's message
 * queue once per token, so the reply ends within one token (onchain: at the next call).
 * @typedef {{type: "stop", id: string | number}} StopMessage
 */

/**
 * Run the on-device model at another precision and/or on another engine.
 * @typedef {{type: "switch", precision: Precision, engine: EngineChoice}} SwitchMessage
 */

/**
 * The gpt2 canister's inference policy and what this identity has spent (answered by `usage`).
 * @typedef {{type: "usage", id: number}} UsageMessage
 */

/**
 * Empty this identity's conversations in the gpt2 canister's prefix cache (answered by `forgotten`).
 * @typedef {{type: "forget"}} ForgetMessage
 */

// ---- worker -> page --------------------------------------------------------------------------

/**
 * @typedef {{type: "log", level: "log" | "info" | "warn" | "error", text: string}} LogMessage  (init's debug)
 * @typedef {{type: "config", label: string, meaningful: boolean, notice: string}} ConfigMessage  as soon as config.json is read
 * @typedef {{type: "status", phase: string, text: string}} StatusMessage  phase: one of STATUS_PHASES.
 *   init goes through config and runtime, then the device's weights and session beside the
 *   chat's python (the device's last one is said again after the first `ready`); the page's
 *   watchdog (page-watchdog.mjs) names what each phase waits for
 */

/**
 * What is about to load, posted on init's progressPort before the model file is fetched (at init
 * and at a switch): the page shows it at once ("q8 · 128 MB to download · needs about 0.4 GB of memory").
 * @typedef {object} PlanMessage
 * @property {"plan"} type
 * @property {Precision} precision  what loads (at start, another one when the precision asked for does not fit: `instead`)
 * @property {Engine} engine
 * @property {string} path  the model file
 * @property {number} download_bytes  what the network brings (0: the file is in this browser's cache)
 * @property {number} size_bytes  the file's size
 * @property {number} memory_bytes  what running it needs (web/weights.js memoryNeed)
 * @property {string | null} instead  why the precision asked for was not loaded (null: it was)
 * @property {Partial<Record<Precision, number>>} sizes  each precision's file size on this engine (the settings show them)
 */

/**
 * @typedef {object} ProgressMessage  (posted on init's progressPort)
 * @property {"progress"} type
 * @property {number} loaded  bytes, cache hits included
 * @property {number} total
 * @property {number} networkBytes  bytes downloaded
 * @property {number} rate  B/s
 * @property {number | null} eta  seconds
 * @property {string} file
 * @property {boolean} fromCache
 * @property {boolean} done
 */

/**
 * @typedef {object} ModelSummary
 * @property {string} label
 * @property {boolean} meaningful
 * @property {string} notice
 * @property {number} n_layer
 * @property {number} n_head
 * @property {number} n_embd
 * @property {number} vocab_size  the model's vocabulary: top_k's bound in the settings
 * @property {number} parameters
 * @property {string} manifestSha256
 * @property {Precision[]} precisions  the precisions this bundle has a file for
 * @property {string | null} name  the model's name (manifest provenance), e.g. "distilgpt2"
 * @property {string | null} license  its license as its model card says, e.g. "mit", or "unknown"
 * @property {string | null} source  where it came from: a hub id, a directory, a seeded config
 */

/**
 * @typedef {object} DeviceState  whether this device runs the model
 * @property {boolean} available
 * @property {boolean} loading  the model is still loading (a start-up's first `ready`): its outcome comes with the next
 * @property {string | null} reason  why this device cannot run the model (while loading: "the model is still loading")
 */

/**
 * The chat can answer: after init, a switch, or when auto's measurement changed the engine.
 * Init's may come twice: first as soon as Python runs the chat and the gpt2 canister is connected
 * (or could not be), the device model still loading (`device.loading`: backends are the onchain
 * ones, or none; engine null), then again once the device model runs or cannot (loading false).
 * When the device's outcome is known before the chat runs, only that second one comes.
 * @typedef {object} ReadyMessage
 * @property {"ready"} type
 * @property {ModelSummary} model
 * @property {Precision} precision
 * @property {Backend[]} backends  what can answer now
 * @property {DeviceState} device
 * @property {string | null} principal  the page's onchain identity
 * @property {{kind: string, model: string, endpoint_host: string | null, llm_canister: string | null} | null} service
 *   the route canister's route_info (null: no route canister on this page)
 * @property {object | null} prices  config.json's ic_prices
 * @property {object} timings  seconds since init of each step (init: `onchain` until the first `ready`, `total` until the device model runs)
 * @property {Engine | null} engine  what answers on this device
 * @property {number} threads
 * @property {boolean} isolated  cross-origin isolated (threads need it)
 * @property {string | null} speedKey  where auto's figures for the running model are kept (an `engines` message's `key`)
 * @property {{shared_memory: boolean, simd: boolean, relaxed_simd: boolean, threads: number, engine: Engine | null, kernel: "relaxed" | "simd128" | null}} features
 *   what this browser gives the on-device model and what the running one got (threads 0, engine null: none runs;
 *   kernel: the icchat engine's q8 product, worker-model.mjs deviceFeatures)
 */

/**
 * auto: each engine's ms per token on this device; "measured": `engine` answers from now on.
 * @typedef {{type: "engines", phase: "measuring" | "measured", engine: Engine, key: string, speeds: Speeds}} EnginesMessage
 * @typedef {{type: "snapshot", phase: "making" | "stopped" | "kept" | "failed"}} SnapshotMessage  the interpreter
 *   snapshot: making (in a thread of its own), stopped (a reply called it off: made again when the
 *   chat is quiet), kept (the next visit restores it), failed
 */

/**
 * icchat.chat.runtime's stats of a reply (python_ms, run_ms, calls, instructions... as the
 * backend reports them). `tokens_per_s` is THE tokens/s figure: the page shows it as is.
 * @typedef {object} ReplyStats
 * @property {number} prompt_tokens
 * @property {number} new_tokens
 * @property {number | string} seed
 * @property {number} seconds
 * @property {number} [first_token_s]
 * @property {number} tokens_per_s
 */

/**
 * @typedef {object} DeltaMessage  text that arrived (never half a character, never a stop string)
 * @property {"delta"} type
 * @property {string | number} id
 * @property {string} text_delta
 * @property {number[]} tokens
 * @property {ReplyStats} stats
 */

/**
 * @typedef {object} DoneMessage  the reply ended (stop_reason "error" arrives as an `error`); an
 *   llm-service answer comes whole in its one `done`, its stats {model, via, cycles, instructions,
 *   calls, seconds, discarded?} (discarded: stopped while the call was out, its answer dropped)
 * @property {"done"} type
 * @property {string | number} id
 * @property {string} text  the whole reply, as it is stored
 * @property {Backend} origin
 * @property {string} stop_reason  one of STOP_REASONS
 * @property {number} trimmed_turns  old turns that did not fit the context window
 * @property {number} trimmed_tokens
 * @property {ReplyStats} stats
 */

/**
 * @typedef {object} ErrorMessage
 * @property {"error"} type
 * @property {string | number} [id]  the generate's, usage's... id
 * @property {string} kind  one of ERROR_KINDS
 * @property {string} message
 * @property {boolean} fatal  nothing can answer any more: the page offers a restart
 * @property {string} during  the type of the message being handled
 */

/**
 * @typedef {{type: "usage", id: number, usage?: object, error?: string}} UsageReply  usage: the canister's `usage` query as JSON numbers
 * @typedef {{type: "forgotten", error?: string}} ForgottenMessage
 */
