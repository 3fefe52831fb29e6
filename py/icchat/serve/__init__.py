"""`icchat serve MODEL`: any icchat bundle behind an OpenAI-compatible HTTP API, on this host.

- `request`: a chat completions body read into icchat's Conversation and Settings.
- `model`: the bundle on native onnxruntime, answered by icchat's chat runtime, one at a time.
- `responses`: OpenAI's completion, chunk and model shapes.
- `idempotency`: the same Idempotency-Key and body, the same response.
- `server`: the HTTP routes (standard library), errors as OpenAI's error JSON.
- `errors`: that error.

docs/llm-service.md says what works and what issue 28 adds next (the route through a canister).
"""
