"""User-facing data errors: one exception type that names file, row, field and value."""
from __future__ import annotations

from typing import Any, Optional


class CaseError(ValueError):
    """A case, profile or scenario file is missing, malformed or inconsistent.

    Attributes
    ----------
    file : str   the file (path) the bad data came from
    row : int or None   1-based row of the data block (or line of the file) when known
    field : str  the column / key at fault
    value : Any  the offending value
    """

    def __init__(self, file: Any, field: str, value: Any, reason: str,
                 row: Optional[int] = None):
        self.file = str(file)
        self.row = row
        self.field = field
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            value = value.item()          # numpy scalar -> plain Python for the message
        self.value = value
        self.reason = reason
        where = self.file if row is None else f"{self.file}, row {row}"
        super().__init__(f"{where}: field '{field}' = {value!r}: {reason}")
