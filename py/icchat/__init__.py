"""icchat: a GPT-2 chat page whose whole stack lives on the Internet Computer.

Subpackages:
  chat     runs in CPython and in Pyodide (stdlib only): tokenizer, prompt, sampling, backends.
  model    host-only: GPT-2 bundle export (safetensors, ONNX variants, canister weights).
  replica  host-only: the local IC replica used for development and tests.
  cli      the `icchat` command.
"""

__version__ = "0.1.0"
