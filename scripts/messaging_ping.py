"""
---
id: messaging-ping
name: Messaging Ping
version: 1.0.0
description: Sends a ping to messaging-pong once every script is loaded and logs the reply.
---
Run together with messaging_pong.py: nai-script run scripts/messaging_ping.py scripts/messaging_pong.py
"""


def on_message(message):
    api.v1.log(f"ping got {message.data['kind']} #{message.data['n']} from {message.fromScriptId}")


await api.v1.messaging.onMessage(on_message)


async def on_loaded():
    await api.v1.messaging.send("messaging-pong", {"kind": "ping", "n": 1})


api.v1.hooks.register("onScriptsLoaded", on_loaded)
