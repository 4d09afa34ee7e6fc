"""Token packing, the access key, the error mapping and the retry rules (no server needed)."""

from __future__ import annotations

import base64
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nai_script.account.crypto import derive_encryption_key
from nai_script.client import auth, codec, errors
from nai_script.client.retry import RetryPolicy, RetrySettings, is_transient, parse_retry_after

# ---- codec -----------------------------------------------------------------------------------


def test_token_width_by_model() -> None:
    assert codec.token_width("llama-3-erato-v1") == 4
    assert codec.token_width("kayra-v1") == 2
    assert codec.token_width("glm-4-6") == 2


def test_pack_uint16_little_endian() -> None:
    packed = codec.pack_token_ids([1, 256, 65535], 2)
    assert base64.b64decode(packed) == b"\x01\x00\x00\x01\xff\xff"
    assert codec.unpack_token_ids(packed, 2) == [1, 256, 65535]


def test_pack_uint32_little_endian() -> None:
    packed = codec.pack_token_ids([1, 128_000, 2**32 - 1], 4)
    assert base64.b64decode(packed) == struct.pack("<3I", 1, 128_000, 2**32 - 1)
    assert codec.unpack_token_ids(packed, 4) == [1, 128_000, 2**32 - 1]


def test_pack_empty() -> None:
    assert codec.pack_token_ids([], 2) == ""
    assert codec.unpack_token_ids("", 4) == []


@pytest.mark.parametrize(("token_id", "width"), [(65536, 2), (-1, 2), (2**32, 4), (-5, 4)])
def test_out_of_range_id_named(token_id: int, width: int) -> None:
    with pytest.raises(ValueError, match=rf"token id {token_id} at position 1"):
        codec.pack_token_ids([0, token_id], width)


def test_non_integer_id_rejected() -> None:
    with pytest.raises(ValueError, match="position 0 is not an integer"):
        codec.pack_token_ids(["5"], 2)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not an integer"):
        codec.pack_token_ids([True], 2)


def test_bad_width_and_bad_input() -> None:
    with pytest.raises(ValueError, match="width must be 2 or 4"):
        codec.pack_token_ids([1], 3)
    with pytest.raises(ValueError, match="not valid base64"):
        codec.unpack_token_ids("@@@", 2)
    with pytest.raises(ValueError, match="not a multiple of the token width"):
        codec.unpack_token_ids(base64.b64encode(b"\x01\x00\x02").decode(), 2)


@given(st.lists(st.integers(0, 2**16 - 1)), st.lists(st.integers(0, 2**32 - 1)))
def test_roundtrip_property(narrow: list[int], wide: list[int]) -> None:
    assert codec.unpack_token_ids(codec.pack_token_ids(narrow, 2), 2) == narrow
    assert codec.unpack_token_ids(codec.pack_token_ids(wide, 4), 4) == wide


# ---- access key ------------------------------------------------------------------------------


def test_access_key_matches_reference_derivation() -> None:
    """Recompute the documented formula independently with argon2's own API."""
    import hashlib

    from argon2.low_level import Type, hash_secret_raw

    email, password = "user@example.com", "hunter2-secret"
    salt = hashlib.blake2b(
        (password[:6] + email + "novelai_data_access_key").encode(), digest_size=16
    ).digest()
    raw = hash_secret_raw(password.encode(), salt, 2, 1953, 1, 64, Type.ID)
    expected = base64.urlsafe_b64encode(raw).decode()[:64]
    key = auth.derive_access_key(email, password)
    assert key == expected
    assert len(key) == 64
    assert "+" not in key
    assert "/" not in key


@pytest.mark.parametrize(
    ("password", "js_slice"),
    [
        ("hunter2-secret", "hunter"),
        ("ab\U0001f600cd\U0001f600ef", "ab\U0001f600cd"),  # an emoji is two UTF-16 units
        ("abcde\U0001f600x", "abcde\ufffd"),  # half a pair: TextEncoder writes U+FFFD
        ("\U0001f600" * 4, "\U0001f600" * 3),
        ("abc", "abc"),
        ("\u00e9t\u00e9\u00e9t\u00e9", "\u00e9t\u00e9\u00e9t\u00e9"[:6]),  # BMP: as Python's
    ],
)
def test_access_key_salt_takes_javascripts_first_six_characters(
    password: str, js_slice: str
) -> None:
    """NovelAI's site derives the key in JavaScript: `password.slice(0, 6)` counts UTF-16
    code units, so a password with an emoji early on gets a different salt than `[:6]`."""
    import hashlib

    from argon2.low_level import Type, hash_secret_raw

    email = "user@example.com"
    salt = hashlib.blake2b(
        (js_slice + email + "novelai_data_access_key").encode(), digest_size=16
    ).digest()
    raw = hash_secret_raw(password.encode(), salt, 2, 1953, 1, 64, Type.ID)
    assert auth.derive_access_key(email, password) == base64.urlsafe_b64encode(raw).decode()[:64]
    # the account's encryption key salts the same way
    salt = hashlib.blake2b(
        (js_slice + email + "novelai_data_encryption_key").encode(), digest_size=16
    ).digest()
    raw = hash_secret_raw(password.encode(), salt, 2, 1953, 1, 128, Type.ID)
    pre_key = base64.urlsafe_b64encode(raw).decode().replace("=", "")
    expected = hashlib.blake2b(pre_key.encode(), digest_size=32).digest()
    assert derive_encryption_key(email, password) == expected


def test_access_key_lowercases_email() -> None:
    lower = auth.derive_access_key("user@example.com", "pw123456")
    assert auth.derive_access_key("User@Example.COM", "pw123456") == lower
    assert auth.derive_access_key("other@example.com", "pw123456") != lower
    assert auth.derive_access_key("user@example.com", "pw1234567") != lower


def test_access_key_rejects_empty_input() -> None:
    with pytest.raises(ValueError, match="email"):
        auth.derive_access_key(" ", "pw")
    with pytest.raises(ValueError, match="password"):
        auth.derive_access_key("a@b.c", "")


# ---- error mapping ---------------------------------------------------------------------------

URL = "https://text.novelai.net/ai/generate"


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, b'{"statusCode":401,"message":"Invalid token"}', errors.AuthenticationError),
        (403, b'{"statusCode":403,"message":"no"}', errors.AuthenticationError),
        (429, b'{"statusCode":429,"message":"Too many requests"}', errors.RateLimitedError),
        (400, b'{"statusCode":400,"message":"bad input"}', errors.BadRequestError),
        (409, b'{"statusCode":409,"message":"conflict"}', errors.BadRequestError),
        (422, b"not json at all", errors.BadRequestError),
        (500, b"", errors.ServerError),
        (503, b'{"error":{"message":"overloaded"}}', errors.ServerError),
    ],
)
def test_error_for_status(status: int, body: bytes, cls: type[errors.NovelAIError]) -> None:
    error = errors.error_for_status(status, body, URL)
    assert type(error) is cls
    assert error.status == status
    assert error.url == URL
    assert "\n" not in str(error)
    assert str(error).startswith(f"HTTP {status}: ")


def test_concurrency_lock_is_its_own_rate_limit() -> None:
    body = b'{"statusCode":429,"message":"Concurrent generation is locked"}'
    error = errors.error_for_status(429, body, URL)
    assert isinstance(error, errors.ConcurrencyLockedError)
    assert isinstance(error, errors.RateLimitedError)
    assert error.message == "Concurrent generation is locked"
    assert str(error) == f"HTTP 429: Concurrent generation is locked ({URL})"


def test_server_message_from_bodies() -> None:
    assert errors.server_message(b'{"statusCode":400,"message":"x"}') == "x"
    assert errors.server_message(b'{"error":"plain"}') == "plain"
    assert errors.server_message(b"  text body \n") == "text body"
    assert errors.server_message(b"[1,2]") == "[1,2]"
    nest = (
        b'{"statusCode":400,"message":["max_length must be < 2049","model is bad"],"error":"Bad"}'
    )
    assert errors.server_message(nest) == "max_length must be < 2049; model is bad"
    page = b"<!DOCTYPE html>\n<html><head><title>text.novelai.net | 524: A timeout\n occurred &amp; more</title>"
    assert errors.server_message(page + b"<style>" + b"x" * 900) == (
        "text.novelai.net | 524: A timeout occurred & more"
    )
    assert errors.server_message(b"<html><body>no title</body></html>").startswith("<html>")


def test_one_line_str_without_status() -> None:
    error = errors.ProtocolError("bad\nthing  here", None, URL)
    assert str(error) == f"bad thing here ({URL})"
    assert "ProtocolError" in repr(error)


# ---- retry rules -----------------------------------------------------------------------------


def test_transient_classification() -> None:
    assert is_transient(errors.ServerError("x", 503))
    assert is_transient(errors.RateLimitedError("x", 429))
    assert is_transient(errors.ConnectionFailedError("refused"))
    assert is_transient(errors.RequestTimeoutError("t", phase="connect"))
    assert not is_transient(errors.RequestTimeoutError("t", phase="read"))
    assert not is_transient(errors.RequestTimeoutError("t", phase="total"))
    assert not is_transient(errors.ConcurrencyLockedError("locked", 429))
    assert not is_transient(errors.BadRequestError("x", 400))
    assert not is_transient(errors.AuthenticationError("x", 401))
    assert not is_transient(errors.ProtocolError("x"))


def test_should_retry_respects_idempotence_and_attempts() -> None:
    policy = RetryPolicy(RetrySettings(attempts=3))
    transient = errors.ServerError("x", 500)
    assert policy.should_retry(transient, idempotent=True, attempt=0)
    assert policy.should_retry(transient, idempotent=True, attempt=1)
    assert not policy.should_retry(transient, idempotent=True, attempt=2)
    assert not policy.should_retry(transient, idempotent=False, attempt=0)


def test_backoff_is_jittered_exponential_and_capped() -> None:
    policy = RetryPolicy(RetrySettings(backoff_base=0.5, backoff_max=3.0), rand=lambda: 1.0)
    assert [policy.delay(a) for a in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    half = RetryPolicy(RetrySettings(backoff_base=0.5, backoff_max=3.0), rand=lambda: 0.5)
    assert half.delay(1) == 0.5
    zero = RetryPolicy(RetrySettings(), rand=lambda: 0.0)
    assert zero.delay(3) == 0.0


def test_retry_settings_validated() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetrySettings(attempts=0)


NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("Tue, 14 Nov 2023 22:14:00 GMT", 40.0),  # an HTTP-date 40 s ahead
        ("Tuesday, 14-Nov-23 22:14:00 GMT", 40.0),  # RFC 850 form
        ("Tue Nov 14 22:14:00 2023", 40.0),  # asctime form (no zone: GMT)
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),  # in the past: go now
        ("Tue, 99 Nov 2023 22:14:00 GMT", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=lambda: NOW) == seconds


def test_retry_after_is_a_floor_on_the_backoff_and_kept_on_429_and_503_only() -> None:
    policy = RetryPolicy(RetrySettings(backoff_base=0.5, backoff_max=10.0), rand=lambda: 1.0)
    assert policy.delay(0, retry_after=3.0) == 3.0
    assert policy.delay(4, retry_after=3.0) == 8.0  # the backoff is longer: it wins
    url = "http://x"
    assert errors.error_for_status(429, b"", url, retry_after=5).retry_after == 5
    assert errors.error_for_status(503, b"", url, retry_after=5).retry_after == 5
    assert errors.error_for_status(500, b"", url, retry_after=5).retry_after is None
    assert errors.error_for_status(400, b"", url, retry_after=5).retry_after is None


def test_a_retry_after_beyond_the_max_is_raised_saying_when() -> None:
    policy = RetryPolicy(RetrySettings(backoff_max=10.0), now=lambda: NOW)
    policy.refuse_long_wait(errors.RateLimitedError("slow down", 429, retry_after=10.0))
    error = errors.RateLimitedError("slow down", 429, retry_after=60.0)
    with pytest.raises(errors.RateLimitedError) as caught:
        policy.refuse_long_wait(error)
    assert caught.value is error
    assert "try again after 2023-11-14 22:14:20 UTC" in str(error)
    assert "[retry after 60 s]" in str(error)
