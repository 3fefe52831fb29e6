"""Generate `icchat/chat/unicode_classes.py`: the code point classes GPT-2's pre-tokenizer needs.

The tokenizer must give the same ids in CPython 3.11 (Unicode 14) and Pyodide 3.14 (Unicode 16),
so it does not ask the running Python's `unicodedata`; it reads fixed tables generated here from
`unicodedata2` at the Unicode version tiktoken's Rust regex uses (tests compare every code point
whose class changed between versions against tiktoken).

    python -m icchat.model.unicode_tables            # rewrite the module
    python -m icchat.model.unicode_tables --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

TARGET = Path(__file__).resolve().parents[1] / "chat" / "unicode_classes.py"

# Unicode's White_Space property (PropList.txt); unchanged since Unicode 6.3 dropped U+180E.
# Python's str.isspace() differs: it also counts U+001C..U+001F.
WHITE_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
               (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
               (0x3000, 0x3000)]


def unicode_database() -> ModuleType:
    import unicodedata2  # build-time only; pinned in pyproject's dev extra

    return unicodedata2


def ranges(member: Callable[[str], bool]) -> Iterator[tuple[int, int]]:
    start = None
    for cp in range(0x110001):
        inside = cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF and member(chr(cp))
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            yield start, cp - 1
            start = None


def render(db: ModuleType) -> str:
    letters = list(ranges(lambda c: db.category(c)[0] == "L"))
    numbers = list(ranges(lambda c: db.category(c)[0] == "N"))

    def table(name: str, rows: list[tuple[int, int]], doc: str) -> str:
        body = "".join(f"    (0x{lo:X}, 0x{hi:X}),\n" for lo, hi in rows)
        return f"# {doc}\n{name}: tuple[tuple[int, int], ...] = (\n{body})\n"

    return (
        '"""Code point classes for GPT-2\'s pre-tokenizer (generated; do not edit).\n\n'
        "Regenerate with `python -m icchat.model.unicode_tables`.\n"
        '"""\n\n'
        f'UNICODE_VERSION = "{db.unidata_version}"\n\n'
        + table("LETTER_RANGES", letters, "\\p{L}: general categories Lu Ll Lt Lm Lo")
        + "\n"
        + table("NUMBER_RANGES", numbers, "\\p{N}: general categories Nd Nl No")
        + "\n"
        + table("WHITE_SPACE_RANGES", WHITE_SPACE, "\\s: the White_Space property")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the module is stale")
    args = parser.parse_args(argv)
    text = render(unicode_database())
    if args.check:
        if TARGET.read_text() != text:
            print(f"{TARGET} is stale; run python -m icchat.model.unicode_tables", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
