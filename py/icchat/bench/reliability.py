"""`icchat bench reliability`: load, faults and hostile input across the stack →
bench/results/reliability.json (one section per runner, see icchat.bench._reliability).

    icchat bench reliability                        # every section (load as a short smoke run)
    icchat bench reliability --load                 # the full load run (<= 5 min) ...
    icchat bench reliability --section load --load  # ... and only that section
    icchat bench reliability --section hostile_input --e2e
    icchat bench reliability --section onchain_abuse  # what an attacker can make the owner pay (~2 min)

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
    parser.add_argument("--e2e", action="store_true", help="hostile_input: also the Chromium hostile-page tests")


def run(args: argparse.Namespace) -> dict[str, Any]:
    for section in args.section or list(_reliability.SECTION_RUNNERS):
        module = importlib.import_module(_reliability.SECTION_RUNNERS[section])
        _reliability.write_section(section, module.run_section(args))
    current = _reliability.read()
    return {name: current[name] for name in _reliability.SECTIONS if name in current}
