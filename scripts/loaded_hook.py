"""
---
id: loaded-hook
name: Loaded Hook
version: 1.0.0
description: Registers onScriptsLoaded and greets once every script has loaded.
---
"""

api.v1.log(f"registered before: {api.v1.hooks.isRegistered('onScriptsLoaded')}")


async def greet():
    count = await api.v1.storage.getOrDefault("loads", 0)
    await api.v1.storage.set("loads", count + 1)
    api.v1.log(f"all scripts loaded (seen {count + 1} times)")


api.v1.hooks.register("onScriptsLoaded", greet)
api.v1.log(f"registered after: {api.v1.hooks.isRegistered('onScriptsLoaded')}")
