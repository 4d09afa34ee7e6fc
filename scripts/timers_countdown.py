"""
---
id: timers-countdown
name: Timers Countdown
version: 1.0.0
description: A countdown with setTimeout, a cleared timer and sleep.
---
"""

fired = []


def tick(n):
    def run():
        fired.append(n)
        api.v1.log(f"tick {n}")

    return run


for n in range(3):
    await api.v1.timers.setTimeout(tick(n), 20 * (n + 1))
cancelled = await api.v1.timers.setTimeout(tick(99), 30)
await api.v1.timers.clearTimeout(cancelled)
await api.v1.timers.sleep(100)
api.v1.log(f"after sleep: {fired}")
roll = api.v1.random.roll("2d6+1")
api.v1.log(f"dice ok: {3 <= roll.total <= 13}")
