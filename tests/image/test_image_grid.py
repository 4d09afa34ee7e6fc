"""Grid math: all 25 cells, the auto order, skipping used cells, running out of cells."""

from __future__ import annotations

import pytest

from nai_script.client.image_grid import (
    ALL_CELLS,
    AUTO_ORDER,
    GridError,
    assign_cells,
    cell_center,
    center_cell,
)

EXPECTED = {
    f"{col}{row}": (round(0.1 + 0.2 * ci, 1), round(0.1 + 0.2 * ri, 1))
    for ci, col in enumerate("ABCDE")
    for ri, row in enumerate("12345")
}


@pytest.mark.parametrize("cell", sorted(EXPECTED))
def test_every_cell_center(cell: str) -> None:
    assert cell_center(cell) == EXPECTED[cell]
    assert center_cell(*EXPECTED[cell]) == cell


def test_named_corners_follow_the_tables() -> None:
    assert cell_center("A1") == (0.1, 0.1)  # top-left
    assert cell_center("E1") == (0.9, 0.1)  # top-right: letter is the column (x)
    assert cell_center("A5") == (0.1, 0.9)  # bottom-left: digit is the row (y)
    assert cell_center("E5") == (0.9, 0.9)
    assert cell_center("C3") == (0.5, 0.5)
    assert len(ALL_CELLS) == 25


def test_lowercase_and_spaces_accepted() -> None:
    assert cell_center(" c3 ") == (0.5, 0.5)


@pytest.mark.parametrize("bad", ["F1", "A0", "A6", "", "AA", "C33", "3C", "Z9"])
def test_bad_cell_names_are_refused_with_field(bad: str) -> None:
    with pytest.raises(GridError, match=r"position: .* is not a grid cell \(allowed: A1\.\.E5"):
        cell_center(bad)


def test_auto_order() -> None:
    assert assign_cells([None] * 5) == list(AUTO_ORDER) == ["A1", "E5", "C3", "E1", "A5"]


def test_auto_skips_used_cells() -> None:
    assert assign_cells(["A1", None, None]) == ["A1", "E5", "C3"]
    assert assign_cells([None, "C3", None, None]) == ["A1", "C3", "E5", "E1"]
    assert assign_cells(["B2", None]) == ["B2", "A1"]


def test_explicit_cells_may_repeat() -> None:
    assert assign_cells(["B2", "B2"]) == ["B2", "B2"]


def test_too_many_auto_characters() -> None:
    with pytest.raises(GridError, match=r"6 character\(s\) without a position but only 5"):
        assign_cells([None] * 6)
    with pytest.raises(GridError, match=r"5 character\(s\) without a position but only 4"):
        assign_cells(["C3"] + [None] * 5)
    # explicit extras are fine
    assert len(assign_cells([None] * 5 + ["B2", "D4"])) == 7


def test_bad_cell_in_list_names_its_index() -> None:
    with pytest.raises(GridError, match=r"characters\[1\]\.position"):
        assign_cells(["A1", "Q7"])
