"""The one error type for bad input.

Every message names what is wrong, where (file, row, column or parameter) and what to do.
The command line turns an :class:`ExplorerError` into exit status 2 without a traceback; the
app shows it with ``st.error``.
"""

from __future__ import annotations


class ExplorerError(ValueError):
    """Bad input from the user: a file, a column, a parameter or a budget.

    Anything else (a bug) is not an ExplorerError.
    """


def preview(values, limit: int = 5) -> str:
    """Show at most ``limit`` items of a sequence, then how many more there are."""
    values = list(values)
    shown = ", ".join(str(v) for v in values[:limit])
    if len(values) > limit:
        shown += f", … ({len(values) - limit} more)"
    return shown


class ExplorerWarning(UserWarning):
    """Something was changed to make the input usable (rows dropped); the message says what."""
