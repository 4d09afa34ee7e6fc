"""Scripts can catch ``ApiError`` by name: the docs say failed calls raise it, but the name was
not defined in a script (``except ApiError`` was a NameError)."""

from __future__ import annotations

from pathlib import Path

from host_helpers import hosted

from nai_script.host.storage import STORAGE_CAP_BYTES

SOURCE = f"""
try:
    await api.v1.storage.set('big', 'x' * {STORAGE_CAP_BYTES})
except ApiError as e:
    api.v1.log('ApiError caught:', isinstance(e, Exception), 'storage is full' in str(e))
try:
    api.v1.random.int(5, 1)
except ApiError:
    api.v1.log('wrong: a ValueError is not an ApiError')
except ValueError:
    api.v1.log('ValueError stays a ValueError')
try:
    raise ApiError('raised by the script')
except ApiError as e:
    api.v1.log(str(e))
"""


async def test_a_script_catches_api_error_by_name(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:
        await env.run(SOURCE)
        assert env.lines() == [
            "ApiError caught: True True",
            "ValueError stays a ValueError",
            "raised by the script",
        ]
