"""The one exception type of the `matrices` package."""
from __future__ import annotations


class MatrixError(ValueError):
    """A matrix file, spec or generator argument is invalid.

    The message is one line that names the file or spec and the problem, ready to show a user.
    """
