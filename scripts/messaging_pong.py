"""
---
id: messaging-pong
name: Messaging Pong
version: 1.0.0
description: Answers every ping it receives with a pong to the sender.
---
"""


async def on_message(message):
    if message.data["kind"] == "ping":
        api.v1.log(f"pong got ping #{message.data['n']}")
        await api.v1.messaging.send(message.fromScriptId, {"kind": "pong", "n": message.data["n"]})


await api.v1.messaging.onMessage(on_message)
