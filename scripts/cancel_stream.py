"""
---
id: cancel-stream
name: Cancel Stream
version: 1.0.0
description: Cancels a long generation after its first 50 tokens; only what streamed is charged.
---
"""

signal = await api.v1.createCancellationSignal()
seen = []


async def on_chunk(choices, final):
    if final:
        return
    seen.extend(choices[0].token_ids)
    if len(seen) >= 50:
        await signal.cancel()


before = api.v1.script.getAllowedOutput()
reply = await api.v1.generate(
    [{"role": "user", "content": "Tell a very long story."}],
    {"model": "glm-4-6", "max_tokens": 2000},
    on_chunk,
    "background",
    signal,
)
charged = before - api.v1.script.getAllowedOutput()
api.v1.log(f"finish: {reply.choices[0].finish_reason}, cancelled: {signal.cancelled}")
api.v1.log(f"charged {charged} of 2000 reserved: {charged == len(reply.choices[0].token_ids)}")
