"""Crash safety (item 1): the short version of tests/reliability/scenarios/crash.py, and focused checks."""

from __future__ import annotations

import pytest

from tests.reliability import crash_kit
from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import crash

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_sync_and_run_killed_at_every_moment_pay_nothing_twice_and_lose_nothing() -> None:
    """SIGKILL of `sync` at each moment that matters, and of `run`, leaves no figure off target."""
    figures = crash.sqlite_figures(long=False)
    assert_all_ok(figures)
    trials = {f.section: f.value for f in figures if f.name == "trials"}
    assert trials["crash: sync on SQLite"] == 8 and trials["crash: run on SQLite"] == 2


def test_a_killed_replica_leaves_the_other_to_finish_on_postgresql() -> None:
    """Of two `run` replicas on PostgreSQL, the one killed after a research POST leaves the other to finish."""
    admin, why = crash_kit.pg_admin()
    if admin is None:
        pytest.skip(why)
    figures = crash.replica_figures(long=False)
    assert_all_ok(figures)
    assert {f.name: f.value for f in figures}["the survivor finished alone"] == "yes"


def test_a_kill_during_the_first_migration_leaves_a_database_the_next_start_migrates() -> None:
    """SIGKILL while a fresh state database is being migrated: the file is intact and the next start migrates it."""
    for _attempt in range(3):  # a loaded machine may let the migration finish before the kill
        with crash_kit.World.create() as world:
            child = crash_kit.spawn_sync(world)
            assert crash_kit.kill_at_migration(world, child, 0.0)
            child.wait(timeout=30)
            if crash_kit.schema_version(world) == crash_kit.schema_head():
                continue
            assert crash_kit.integrity(world) == "ok"
            rerun = crash_kit.spawn_sync(world)
            assert rerun.wait(timeout=120) in (0, 1), rerun.stderr()
            assert "Traceback" not in rerun.stderr()
            assert crash_kit.schema_version(world) == crash_kit.schema_head()
            return
    pytest.fail("three kills in a row came after the migration had committed")


def test_research_replacing_a_result_is_not_paid_twice_after_saber_forgot_the_key() -> None:
    """A killed re-research (inputs changed) is adopted by the re-run even when Saber no longer replays its key."""
    with crash_kit.World.create() as world:
        crash_kit.clean_sync(world)
        changed = crash_kit.change_inputs(world)
        child = crash_kit.spawn_sync(world)
        crash_kit.KillSwitch(frozenset({"research_create"}), 1).install(world, child)
        child.wait(timeout=120)
        assert child.returncode == -9
        world.box.saber.forget_idempotency_keys()  # the restart comes after Saber's key window

        rerun = crash_kit.spawn_sync(world)
        assert rerun.wait(timeout=120) in (0, 1), rerun.stderr()
        summary = rerun.summary()
        assert summary is not None and summary["research"]["adopted"] >= 1
        assert crash_kit.duplicate_research(world.box) == 0
        titles = [r.get("jobTitle") for r in world.box.saber.all_research() if r["externalId"] in changed]
        assert titles.count(crash_kit.CHANGED_TITLE) == len(changed)  # one new research each
