"""Host-only model tooling: GPT-2 bundle export, vocabulary derivation, reference forward pass."""
