"""The fault spec language and the seeded injector, without a server."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nai_script.sim import FaultSpec, FaultSpecError, SimSettings
from nai_script.sim.faults import DEFAULT_SLOW_MS, FaultInjector, FaultRule


def test_parse_full_syntax_and_render_round_trip() -> None:
    spec = FaultSpec.parse(" drop@5 , 429%0.5,slow,500#2 ,slow@250%0.25#3")
    assert spec.rules == (
        FaultRule(kind="drop", arg=5),
        FaultRule(kind="429", probability=0.5),
        FaultRule(kind="slow"),
        FaultRule(kind="500", max_count=2),
        FaultRule(kind="slow", arg=250, probability=0.25, max_count=3),
    )
    assert FaultSpec.parse(spec.render()) == spec


@pytest.mark.parametrize("text", ["", "  ", "none", "NONE"])
def test_empty_specs_mean_no_faults(text: str) -> None:
    assert FaultSpec.parse(text).rules == ()
    assert FaultSpec.parse(text).render() == "none"


def test_kind_is_case_insensitive() -> None:
    assert FaultSpec.parse("DROP@1").rules[0].kind == "drop"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("boom", "rule 1 'boom': unknown kind 'boom'"),
        ("drop@x", "rule 1 'drop@x': '@x' is not a whole number"),
        ("drop@-1", "'@-1' is not a whole number"),
        ("500@3", "'@3' means nothing for kind '500'"),
        ("500%2", "probability '%2' must be in (0, 1]"),
        ("500%0", "probability '%0' must be in (0, 1]"),
        ("500%abc", "'%abc' is not a number"),
        ("drop,,slow", "rule 2 '': empty rule"),
        ("slow#0", "'#0' must be at least 1"),
        ("drop%0.5@3", "expected KIND[@N][%P][#COUNT]"),
        ("slow,drop@5@6", "rule 2 'drop@5@6'"),
    ],
)
def test_bad_specs_name_the_rule_and_part(text: str, fragment: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        FaultSpec.parse(text)
    assert fragment in str(info.value)


def test_settings_accept_spec_strings_and_validate_on_assignment() -> None:
    settings = SimSettings(faults="drop@3")
    assert settings.faults.rules == (FaultRule(kind="drop", arg=3),)
    settings.faults = "429"  # type: ignore[assignment]
    assert settings.faults.rules[0].kind == "429"
    with pytest.raises(ValidationError, match="unknown kind"):
        settings.faults = "nope"  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        settings.tokens_per_second = -1


def test_plan_combines_rules() -> None:
    plan = FaultInjector(0).plan(FaultSpec.parse("slow@100,slow,drop@7,drop@3,500,429"))
    assert plan.slow_ms == 100 + DEFAULT_SLOW_MS
    assert plan.drop_after == 3
    assert (plan.status, plan.message) == (500, "Internal server error (simulated fault)")


@pytest.mark.parametrize(
    ("text", "status", "message", "retry_after"),
    [
        ("429@30", 429, "Concurrent generation is locked", 30),
        ("limit", 429, "Too many requests (simulated fault)", None),
        ("limit@5", 429, "Too many requests (simulated fault)", 5),
        ("503@0", 503, "Service unavailable (simulated fault)", 0),
        ("500", 500, "Internal server error (simulated fault)", None),
    ],
)
def test_status_faults_and_their_retry_after(
    text: str, status: int, message: str, retry_after: int | None
) -> None:
    spec = FaultSpec.parse(text)
    assert FaultSpec.parse(spec.render()) == spec
    plan = FaultInjector(0).plan(spec)
    assert (plan.status, plan.message, plan.retry_after) == (status, message, retry_after)


def test_429_message_is_novelais() -> None:
    plan = FaultInjector(0).plan(FaultSpec.parse("429"))
    assert (plan.status, plan.message) == (429, "Concurrent generation is locked")


def test_no_faults_is_clean() -> None:
    assert FaultInjector(0).plan(FaultSpec()).is_clean


def _fired(seed: int, spec: str, n: int) -> list[bool]:
    injector = FaultInjector(seed)
    parsed = FaultSpec.parse(spec)
    return [injector.plan(parsed).status is not None for _ in range(n)]


def test_probabilistic_faults_are_reproducible_per_seed() -> None:
    first = _fired(7, "500%0.5", 200)
    assert first == _fired(7, "500%0.5", 200)
    assert first != _fired(8, "500%0.5", 200)
    assert 60 < sum(first) < 140  # about half


def test_count_limits_fire_then_stop_and_reset_with_a_new_spec() -> None:
    injector = FaultInjector(0)
    spec = FaultSpec.parse("500#2")
    assert [injector.plan(spec).status for _ in range(4)] == [500, 500, None, None]
    other = FaultSpec.parse("429#1")
    assert [injector.plan(other).status for _ in range(2)] == [429, None]
    assert injector.plan(spec).status == 500  # switching back starts the budget afresh


def test_request_spec_replaces_run_spec_and_does_not_use_the_budget() -> None:
    injector = FaultInjector(0)
    run = FaultSpec.parse("500#1")
    assert injector.plan(run, FaultSpec.parse("none")).is_clean
    assert injector.plan(run, FaultSpec.parse("drop@2")).drop_after == 2
    assert injector.plan(run).status == 500  # the run budget was untouched
