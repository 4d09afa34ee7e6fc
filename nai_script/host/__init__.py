"""The script host: composes the client core, the limits and the sandbox into api.v1."""
