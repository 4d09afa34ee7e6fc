"""
---
id: storage-counter
name: Storage Counter
version: 1.0.0
description: Counts its runs in persistent storage and keeps scratch data in tempStorage.
---
Run it twice with the same --data directory and the count goes up: storage survives restarts.
"""

runs = await api.v1.storage.getOrDefault("runs", 0)
await api.v1.storage.set("runs", runs + 1)
await api.v1.storage.setIfAbsent("firstRunId", api.v1.uuid())
await api.v1.storyStorage.set("lastStoryVisit", runs + 1)
await api.v1.tempStorage.set("scratch", {"items": [1, 2, 3]})
scratch = await api.v1.tempStorage.get("scratch")
api.v1.log(f"run number {runs + 1}")
api.v1.log(f"keys: {await api.v1.storage.list()}")
api.v1.log(f"scratch has {len(scratch['items'])} items")
await api.v1.tempStorage.remove("scratch")
api.v1.log(f"scratch kept: {await api.v1.tempStorage.has('scratch')}")
