"""The embedded NovelAI-compatible simulator: NovelAI's paths, status codes, JSON shapes and
SSE formats, with deterministic pseudo-prose, pacing and fault injection. Labelled a simulator
everywhere it shows (``X-Simulator`` header, model listing)."""

from __future__ import annotations

from nai_script.sim.app import create_app
from nai_script.sim.faults import FaultSpec, FaultSpecError
from nai_script.sim.server import SimServer
from nai_script.sim.settings import SimSettings
from nai_script.sim.state import SimState

__all__ = ["FaultSpec", "FaultSpecError", "SimServer", "SimSettings", "SimState", "create_app"]
