"""Request parameters shared by the routes.

``RowId``: a row's id in a path. Ids are 64-bit integers in the database; a
larger number in a URL would reach the driver and fail there (a 500), so it is
refused as invalid input (422 naming the parameter) before any query.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

__all__ = ["MAX_ROW_ID", "RowId"]

MAX_ROW_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
