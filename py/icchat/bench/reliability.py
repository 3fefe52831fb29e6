"""`icchat bench reliability`: the stack's figures under load, under attack and for durability →
bench/results/reliability.json (one section per runner, see icchat.bench._reliability).

    icchat bench reliability                        # every section (load as a short smoke run)
    icchat bench reliability --load                 # the full load run (<= 5 min) ...
    icchat bench reliability --section load --load  # ... and only that section
    icchat bench reliability --section onchain_abuse  # what an attacker can make the owner pay (~2 min)
    icchat bench reliability --section durable_replies  # the latency a checkpoint before each reply adds

Pass/fail is the tests' job: the fault scenarios are tests/faults (and e2e/test_page_recovers.py),
hostile input tests/hostile and e2e/test_hostile_page.py, all run by `./dev test`.

Each section is written to the file as soon as it is done (the others are kept), so a section
can be regenerated alone.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from icchat.bench import _reliability


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--section", action="append", choices=_reliability.SECTIONS,
                        help="run only this section (repeatable; default: all)")
    parser.add_argument("--load", action="store_true", help="the full load run (default: a short smoke run)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    for section in args.section or list(_reliability.SECTION_RUNNERS):
        module = importlib.import_module(_reliability.SECTION_RUNNERS[section])
        _reliability.write_section(section, module.run_section(args))
    current = _reliability.read()
    return {name: current[name] for name in _reliability.SECTIONS if name in current}
