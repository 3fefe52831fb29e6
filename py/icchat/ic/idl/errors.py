"""The one error type of the Candid codec."""


class CandidError(ValueError):
    """Malformed Candid (binary or text), or a value that does not fit its type."""


class CoercionError(CandidError):
    """A well-formed value that does not coerce to the expected type.

    The spec's `opt` rules turn this (and only this) into `null`; limits and malformed input
    stay fatal.
    """
