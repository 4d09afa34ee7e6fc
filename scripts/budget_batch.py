"""
---
id: budget-batch
name: Budget-aware Batch
version: 1.0.0
description: Generates a batch of short texts, waiting for allowed input and output first.
config:
  - name: batch
    type: integer
    default: 3
  - name: maxTokens
    type: integer
    default: 600
---
Each item waits until the script's budgets allow it, the way NovelAI asks batch scripts to
behave; after 2048 output tokens the script waits for the user to interact.
"""

model = "glm-4-6"
max_tokens = await api.v1.config.get("maxTokens")
done = 0
for index in range(await api.v1.config.get("batch")):
    messages = [{"role": "user", "content": f"Write line {index} of a poem about rain."}]
    needed_input = api.v1.script.countUncachedInputTokens(messages)
    if api.v1.script.getAllowedOutput() < max_tokens:
        wait_ms = api.v1.script.getTimeUntilAllowedOutput(max_tokens)
        api.v1.log(f"item {index}: waiting for output budget (about {wait_ms} ms + interaction)")
    await api.v1.script.waitForAllowedOutput(max_tokens)
    await api.v1.script.waitForAllowedInput(needed_input)
    reply = await api.v1.generate(messages, {"model": model, "max_tokens": max_tokens})
    done += 1
    api.v1.log(f"item {index}: {len(reply.choices[0].token_ids)} tokens")
api.v1.log(f"batch done: {done} items, output left {api.v1.script.getAllowedOutput()}")
