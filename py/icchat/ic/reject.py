"""The reason a canister gives for refusing a call, as the one line a person reads.

A canister's own reject is its line. A trap — canister_inspect_message refuses by trapping, so the
caller reads why — is worded by the IC as "Error from Canister <id>: Canister called `ic0.trap`
with message: '<line>'." followed by a line of generic help; the line is the quoted part.
"""

from __future__ import annotations

import re

_TRAP = re.compile(r"Canister called `ic0\.trap` with message: '(.*)'\.?\s*$")


def canister_line(message: str) -> str:
    """The canister's own line of a reject or trap message (anything else: the message as it is)."""
    found = _TRAP.search(message.split("\n", 1)[0])
    return found.group(1) if found else message
