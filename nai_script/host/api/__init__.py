"""One module per api.v1 namespace; each exports ``ROUTES`` (dotted path -> route)."""
