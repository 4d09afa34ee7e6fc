"""Fixtures for the image tests: a live simulator on loopback (helpers in ``image_helpers``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nai_script.sim import SimServer, SimSettings


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(SimSettings()) as server:
        yield server
