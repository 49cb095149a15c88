"""The one exception type users see: a single line naming the file/key and what was expected."""


class GenolmError(Exception):
    """A user-facing error; its message is one line and names the offending file, line or key."""
