"""What tests/ and e2e/ share to run the stack (importable as `support`: tests/ is on pytest's
`pythonpath`). The parts a benchmark needs too (the Chromium launch, free_port, the tiny bundle,
`icchat up` in a directory of its own) live in the package, icchat.bench._host, since the
installed package never imports from tests/; this package adds what only tests need."""
