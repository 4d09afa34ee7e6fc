"""
---
id: streaming-chat
name: Streaming Chat
version: 1.0.0
author: nai-script examples
description: A chat loop that keeps its history in a rollover helper and streams each reply.
config:
  - name: model
    prettyName: Model
    type: string
    default: glm-4-6
  - name: turns
    prettyName: Turns to simulate
    type: integer
    default: 3
---
The history lives in a rollover helper sized to the model's context, so old turns fall out of
the window in steps (keeping the prefix cache warm between trims) instead of one per turn.
"""

model = await api.v1.config.get("model")
history = api.v1.createRolloverHelper(
    {
        "maxTokens": await api.v1.maxTokens(model),
        "rolloverTokens": await api.v1.rolloverTokens(model),
        "model": model,
    }
)
await history.add({"role": "system", "content": "You are a helpful storyteller."})

questions = ["Tell me about the harbour.", "Who lives there?", "What happens at night?"]
for question in questions[: await api.v1.config.get("turns")]:
    await history.add({"role": "user", "content": question})
    streamed = []

    def on_chunk(choices, final):
        if not final:
            streamed.append(choices[0].text)

    messages = [{"role": item["role"], "content": item["content"]} for item in history.read()]
    reply = await api.v1.generate(messages, {"model": model, "max_tokens": 40}, on_chunk)
    text = reply.choices[0].text
    await history.add({"role": "assistant", "content": text})
    api.v1.log(f"user: {question}")
    api.v1.log(f"assistant ({len(streamed)} callback deliveries): {text.strip()}")

api.v1.log(f"history: {history.count()} items, {history.totalTokens()} tokens")
