"""One way to page through a query: the total count, then one ordered page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def paginate(
    session: Session, stmt: Select, *order_by: Any, page: int, page_size: int
) -> tuple[list[Any], int]:
    """Rows of page ``page`` (from 1) in the given order, and the total over all pages.

    Single-entity queries give entities; multi-column ones give rows.
    """
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    paged = stmt.order_by(*order_by).offset((page - 1) * page_size).limit(page_size)
    result = session.execute(paged)
    rows = result.scalars().all() if len(stmt.column_descriptions) == 1 else result.all()
    return list(rows), total


def bounded_count(session: Session, stmt: Select, limit: int) -> tuple[int, bool]:
    """How many rows ``stmt`` gives, counting no further than ``limit`` (a list of a million
    alerts must not count them all for every page): (the count, whether it is exact). Past
    the limit it is (``limit``, False): "more than ``limit``"."""
    counted = stmt.order_by(None).limit(limit + 1).subquery()
    n = session.scalar(select(func.count()).select_from(counted)) or 0
    return (limit, False) if n > limit else (n, True)
