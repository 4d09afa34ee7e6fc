"""The local web editor: an aiohttp app serving one page and a WebSocket (``nai-script serve``)."""
