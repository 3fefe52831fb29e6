"""The served model's name and context in tests/serve (a module of its own name: `conftest` is
ambiguous when pytest collects several test folders in one run)."""

MODEL_ID = "tiny-serve"
N_CTX = 64
