"""icchat: a GPT-2 chat page whose whole stack lives on the Internet Computer.

Subpackages:
  chat     runs in CPython and in Pyodide (stdlib only): tokenizer, prompt, sampling, backends.
  ic       IC protocol primitives (host and Pyodide): principals, Candid, certificates, agents.
  model    host-only: GPT-2 bundle export (safetensors, ONNX variants, canister weights).
  replica  host-only: the local IC replica used for development and tests.
  build    host-only: the canisters, the icchat engine and the page, built.
  deploy   host-only: sync a folder to an asset canister.
  stack    host-only: the local stack (`icchat up`) and the mainnet deploy.
  bench    host-only: the benchmarks (`icchat bench NAME`); figures, not tests.
  cli      the `icchat` command.
"""

__version__ = "0.1.0"
