"""
---
id: config-greeter
name: Config Greeter
version: 1.2.0
author: nai-script examples
description: Reads its settings with config.get; the host may override the header defaults.
config:
  - name: greeting
    prettyName: Greeting
    type: string
    default: Hello
  - name: repeat
    prettyName: Times to greet
    type: integer
    default: 2
  - name: shout
    type: boolean
    default: false
---
"""

greeting = await api.v1.config.get("greeting")
shout = await api.v1.config.get("shout")
for n in range(await api.v1.config.get("repeat")):
    line = f"{greeting} #{n + 1} from {api.v1.script.name} v{api.v1.script.version}"
    api.v1.log(line.upper() if shout else line)
try:
    await api.v1.config.get("missing")
except ValueError as problem:
    api.v1.log(f"unknown option refused: {problem}")
