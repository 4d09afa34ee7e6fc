"""
---
id: uncached-check
name: Uncached Token Check
version: 1.0.0
description: Counts uncached prompt tokens before sending, so a resend of a long prompt is cheap.
---
"""

model = "glm-4-6"
story = " ".join(["The lighthouse keeper counted the ships that passed in the night."] * 40)
messages = [
    {"role": "system", "content": "Continue the story."},
    {"role": "user", "content": story},
]
first = api.v1.script.countUncachedInputTokens(messages)
api.v1.log(f"before: {first} uncached tokens")
if first <= api.v1.script.getAllowedInput():
    await api.v1.generate(messages, {"model": model, "max_tokens": 10})
again = api.v1.script.countUncachedInputTokens(messages)
api.v1.log(f"after: {again} uncached tokens (the rest is cached in 64-token blocks)")
api.v1.log(f"cached: {first - again}")
