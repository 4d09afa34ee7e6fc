"""The 5x5 character-position grid of NovelAI's V4 image models.

Cells are named "A1".."E5": the letter is the column (x, left to right), the digit the row
(y, top to bottom). A1 is the top-left corner (0.1, 0.1), E1 the top-right (0.9, 0.1), A5 the
bottom-left (0.1, 0.9) and C3 the centre. (The seed client's formula block swaps the axes; its
tables, its named corners and NovelAI's own UI agree with this rule, so we follow them.)
"""

from __future__ import annotations

from collections.abc import Sequence

COLUMNS = "ABCDE"
ROWS = "12345"
ALL_CELLS: tuple[str, ...] = tuple(f"{col}{row}" for row in ROWS for col in COLUMNS)

# Characters without an explicit cell are spread out in this order: the corners far apart
# first, then the centre, then the two remaining corners.
AUTO_ORDER: tuple[str, ...] = ("A1", "E5", "C3", "E1", "A5")


class GridError(ValueError):
    """A cell name or a placement the grid cannot satisfy; the message names the field."""


def normalize_cell(cell: str, *, field: str = "position") -> str:
    """Upper-case and validate a cell name, so "c3" and " C3 " mean the same cell."""
    name = cell.strip().upper()
    if len(name) != 2 or name[0] not in COLUMNS or name[1] not in ROWS:
        raise GridError(
            f"{field}: {cell!r} is not a grid cell (allowed: A1..E5, letter = column A-E, "
            "digit = row 1-5)"
        )
    return name


def cell_center(cell: str, *, field: str = "position") -> tuple[float, float]:
    """The (x, y) centre of a cell, both in 0.1..0.9, rounded to one decimal."""
    name = normalize_cell(cell, field=field)
    x = 0.1 + 0.2 * COLUMNS.index(name[0])
    y = 0.1 + 0.2 * ROWS.index(name[1])
    return round(x, 1), round(y, 1)


def center_cell(x: float, y: float) -> str | None:
    """The cell whose centre is (x, y), or None when the point is no cell centre."""
    for cell in ALL_CELLS:
        cx, cy = cell_center(cell)
        if abs(cx - x) < 1e-6 and abs(cy - y) < 1e-6:
            return cell
    return None


def assign_cells(positions: Sequence[str | None], *, field: str = "characters") -> list[str]:
    """Give every character a cell: explicit ones are kept (and validated), the others get the
    auto order A1, E5, C3, E1, A5, skipping cells already taken.

    Explicit cells may repeat (two characters may share a spot on purpose); auto placement never
    lands on a taken cell, and running out of auto cells is an error naming the count.
    """
    explicit = [
        None if pos is None else normalize_cell(pos, field=f"{field}[{i}].position")
        for i, pos in enumerate(positions)
    ]
    used = {cell for cell in explicit if cell is not None}
    free = [cell for cell in AUTO_ORDER if cell not in used]
    needed = sum(1 for cell in explicit if cell is None)
    if needed > len(free):
        raise GridError(
            f"{field}: {needed} character(s) without a position but only {len(free)} automatic "
            f"cell(s) left ({', '.join(free) or 'none'}); automatic placement uses "
            f"{', '.join(AUTO_ORDER)} — give the extra characters an explicit cell (A1..E5)"
        )
    auto = iter(free)
    return [cell if cell is not None else next(auto) for cell in explicit]
