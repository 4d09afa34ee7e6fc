"""Chat templates: a list of ``{role, content}`` messages -> the exact prompt text per model.

The limits count the tokens of this text (SPEC 5, prefix cache), so it must be byte-for-byte
what the backend sees. Three shapes:

* ``glm`` (glm-4-6, xialong-v1, the simulator): ``[gMASK]<sop>`` then ``<|role|>\\n content``
  per message; the generation prompt is ``<|assistant|>\\n``.
* ``llama3`` (llama-3-erato-v1): ``<|begin_of_text|>`` then
  ``<|start_header_id|>role<|end_header_id|>\\n\\n content<|eot_id|>`` per message; the
  generation prompt is the assistant header.
* ``plain`` (kayra-v1, clio-v1, completion-only): the contents concatenated as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from nai_script.tokenizers.errors import ChatTemplateError
from nai_script.tokenizers.models import ChatTemplateKind, model_info

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")

# Every special token a template writes; tokenizers must know them all.
TEMPLATE_SPECIALS: dict[ChatTemplateKind, tuple[str, ...]] = {
    "glm": ("[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>"),
    "llama3": ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    "plain": (),
}


class ChatMessage(BaseModel):
    """One chat message, as ``api.v1.generate`` receives it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    role: Role
    content: str


def validate_messages(messages: Sequence[ChatMessage | Mapping[str, Any]]) -> list[ChatMessage]:
    """Check roles and contents; errors name the message index and the field."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise ChatTemplateError("messages: must be a list of {role, content} objects")
    checked: list[ChatMessage] = []
    for index, message in enumerate(messages):
        if isinstance(message, ChatMessage):
            checked.append(message)
            continue
        if not isinstance(message, Mapping):
            raise ChatTemplateError(
                f"messages[{index}]: must be an object with role and content, "
                f"not {type(message).__name__}"
            )
        role = message.get("role")
        if role not in ROLES:
            raise ChatTemplateError(
                f"messages[{index}].role: {role!r} is not one of {', '.join(ROLES)}"
            )
        content = message.get("content")
        if not isinstance(content, str):
            raise ChatTemplateError(
                f"messages[{index}].content: must be a string, not {type(content).__name__}"
            )
        checked.append(ChatMessage(role=role, content=content))
    return checked


def render_chat(
    kind: ChatTemplateKind,
    messages: Sequence[ChatMessage | Mapping[str, Any]],
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text for one template shape."""
    checked = validate_messages(messages)
    if kind == "glm":
        parts = ["[gMASK]<sop>"]
        parts.extend(f"<|{m.role}|>\n{m.content}" for m in checked)
        if add_generation_prompt:
            parts.append("<|assistant|>\n")
        return "".join(parts)
    if kind == "llama3":
        parts = ["<|begin_of_text|>"]
        parts.extend(
            f"<|start_header_id|>{m.role}<|end_header_id|>\n\n{m.content}<|eot_id|>"
            for m in checked
        )
        if add_generation_prompt:
            parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
        return "".join(parts)
    return "".join(m.content for m in checked)


def apply_chat_template(
    model_id: str,
    messages: Sequence[ChatMessage | Mapping[str, Any]],
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text ``model_id`` sees for ``messages`` (ending with the assistant opener)."""
    return render_chat(model_info(model_id).chat_template, messages, add_generation_prompt)
