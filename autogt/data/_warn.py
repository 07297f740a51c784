"""``DataWarning`` and a ``warn`` helper that points warnings at the caller of ``autogt.data``.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("3 rows skipped")
    >>> caught[0].category.__name__
    'DataWarning'
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = ["DataWarning", "warn"]

_PACKAGE = str(Path(__file__).resolve().parent)


class DataWarning(UserWarning):
    """Something in the data was skipped or adjusted (bad SMILES, ignored columns, unreadable cache...)."""


def warn(message: str) -> None:
    """Issue a :class:`DataWarning` attributed to the first frame outside ``autogt/data``."""
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and str(Path(frame.f_code.co_filename).resolve().parent) == _PACKAGE:
        frame = frame.f_back
        level += 1
    warnings.warn(message, DataWarning, stacklevel=level)
