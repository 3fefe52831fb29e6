"""Errors the CLI reports as one clear line (no traceback) with a non-zero exit."""


class UserError(Exception):
    """Bad input or an unmet precondition the user can fix; the message says how."""
