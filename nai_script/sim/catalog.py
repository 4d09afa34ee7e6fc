"""The text models the simulator serves and how NovelAI serves each of them.

``generate_status`` follows NovelAI: models text.novelai.net serves answer ``/ai/generate`` with
200, older ones (served by api.novelai.net) with 201. The byte width of token ids in base64
``input``/``output`` comes from ``nai_script.client.codec``, so client and simulator agree.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SimModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    generate_status: int
    context_tokens: int


TEXT_MODELS: dict[str, SimModel] = {
    m.id: m
    for m in (
        SimModel(id="glm-4-6", generate_status=200, context_tokens=28672),
        SimModel(id="xialong-v1", generate_status=200, context_tokens=28672),
        SimModel(id="llama-3-erato-v1", generate_status=200, context_tokens=8192),
        SimModel(id="kayra-v1", generate_status=200, context_tokens=8192),
        SimModel(id="clio-v1", generate_status=201, context_tokens=8192),
        SimModel(id="krake-v2", generate_status=201, context_tokens=2048),
        SimModel(id="euterpe-v2", generate_status=201, context_tokens=2048),
        SimModel(id="6B-v4", generate_status=201, context_tokens=2048),
        SimModel(id="2.7B", generate_status=201, context_tokens=2048),
    )
}

OWNED_BY = "nai-script-simulator"


def lookup_model(model_id: str, *, accept_unknown: bool) -> SimModel | None:
    """The model entry, a stand-in for unknown ids when allowed, else ``None``."""
    known = TEXT_MODELS.get(model_id)
    if known is not None or not accept_unknown:
        return known
    return SimModel(id=model_id, generate_status=200, context_tokens=8192)


def unknown_model_message(model_id: str) -> str:
    return f"model: unknown model {model_id!r} (served: {', '.join(TEXT_MODELS)})"
