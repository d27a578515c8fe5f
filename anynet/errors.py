"""The design space's one exception: an architecture outside AnyNetX."""


class ArchError(ValueError):
    """An architecture outside the design space; the message names the field and the allowed values."""
