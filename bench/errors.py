"""The one exception type for mistakes a user can make and mend.

The CLI prints it as a single line and exits 2, so anything raised as ``BenchError`` must carry a
message that says what is wrong and what to do about it.
"""


class BenchError(Exception):
    """A user-caused problem: bad data root, unknown name, mismatched checkpoint, and so on."""
