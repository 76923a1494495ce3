"""Exceptions raised by zonespill. Every input error names file, row(s) and column."""

from __future__ import annotations

from collections.abc import Sequence


class ZonespillError(Exception):
    """Base class for all zonespill errors."""


class InputError(ZonespillError, ValueError):
    """A user input (file, table, config or argument) was rejected.

    The message always names the source (file path or argument), the offending
    row(s) and the column (or config key). For files, rows are spreadsheet rows as a
    user sees them (the header is row 1, so the first data row is row 2; ``"all"`` for
    the whole file); for in-memory DataFrames, 1-based positions.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "<data>",
        rows: Sequence[int] | str | None = None,
        column: str | None = None,
    ) -> None:
        self.source = source
        self.rows = rows
        self.column = column
        self.reason = message
        super().__init__(self._format())

    _column_word = "column"

    def _format(self) -> str:
        parts = [f"{self.source}"]
        if self.rows is not None:
            if isinstance(self.rows, str):
                parts.append(f"row(s) {self.rows}")
            else:
                shown = list(self.rows)[:10]
                more = "" if len(self.rows) <= 10 else f" … (+{len(self.rows) - 10} more)"
                parts.append("row(s) " + ", ".join(str(r) for r in shown) + more)
        if self.column is not None:
            parts.append(f"{self._column_word} '{self.column}'")
        return ": ".join([", ".join(parts), self.reason])


class ConfigError(InputError):
    """The configuration was rejected (the ``column`` names the config key)."""

    _column_word = "key"


class EstimationError(ZonespillError, ValueError):
    """An estimator cannot run on the data given (e.g. a cohort without valid controls)."""
