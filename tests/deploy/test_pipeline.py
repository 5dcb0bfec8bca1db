"""The deploy pipeline on a real store with real commands: live, rolled back, refused, recovered."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redline._errors import DeployLockedError, RollbackError
from redline.deploy.lock import acquire, current_lock
from redline.deploy.pipeline import Pipeline, Verdict, recover
from redline.deploy.recipes import CommandRecipe, DeployContext, Hooks
from redline.store import Store, open_store

DEPLOY = 'printf %s {version} > current && echo "{version}" >> history'


class Site:
    """A deploy target on disk: ``current`` holds the version serving; versions whose name
    contains ``bad`` fail verification (the seam production code passes a verifier into)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.checked: list[tuple[str, bool]] = []

    @property
    def serving(self) -> str:
        path = self.root / "current"
        return path.read_text() if path.exists() else ""

    def verify(self, ctx: DeployContext, smoke_only: bool) -> Verdict:
        self.checked.append((self.serving, smoke_only))
        if "bad" in self.serving:
            return Verdict("fail", "rollback", (f"smoke: health failed on {self.serving}",))
        return Verdict("pass", "promote")

    def recipe(self, hooks: Hooks | None = None, deploy: str = DEPLOY) -> CommandRecipe:
        return CommandRecipe(deploy, timeout=20, cwd=self.root, hooks=hooks)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{(tmp_path / 'store.db').as_posix()}") as s:
        yield s


def pipeline(store: Store, site: Site, **kw: object) -> Pipeline:
    recipes = kw.pop("recipes", None) or {"api": site.recipe()}
    return Pipeline(store, "prod", recipes=recipes, verify=site.verify, **kw)  # type: ignore[arg-type]


def test_a_good_release_goes_live(store: Store, tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    out = pipeline(store, site).deploy("1.0")
    assert (out.code, out.state, site.serving) == (0, "live", "1.0")
    release = store.get_release(out.release_id)
    assert release is not None and release.state == "live" and release.finished_at is not None
    assert [s["name"] for s in release.steps] == ["api: deploy: deploy", "verify: smoke, soak"]
    assert current_lock(store, "prod") is None  # released


def test_a_bad_release_is_rolled_back_to_the_last_known_good(store: Store, tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    p = pipeline(store, site)
    assert p.deploy("1.0").code == 0
    out = p.deploy("1.1-bad")
    assert (out.code, out.state, out.rolled_back_to) == (3, "rolled_back", "1.0")
    assert site.serving == "1.0"
    assert site.checked[-1] == ("1.0", True)  # the rollback was re-verified, smoke only
    assert "health failed on 1.1-bad" in out.reasons[0]
    assert (tmp_path / "site" / "history").read_text().split() == ["1.0", "1.1-bad", "1.0"]


def test_good_good_bad_bad_rolls_back_to_the_second_good(store: Store, tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    p = pipeline(store, site, max_consecutive_auto_rollbacks=5)
    for version in ("1.0", "1.1", "1.2-bad"):
        p.deploy(version)
    out = p.deploy("1.3-bad")
    assert out.rolled_back_to == "1.1" and site.serving == "1.1"
    states = [(r.version, r.state) for r in store.list_releases("prod")]
    assert states == [
        ("1.3-bad", "rolled_back"),
        ("1.2-bad", "rolled_back"),
        ("1.1", "live"),
        ("1.0", "live"),
    ]


def test_a_failing_before_switch_hook_switches_nothing(store: Store, tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    pipeline(store, site).deploy("1.0")
    hooks = Hooks(before_switch=["exit 3"], on_failure=["echo failed > failure-note"])
    out = pipeline(store, site, recipes={"api": site.recipe(hooks)}).deploy("1.1")
    assert (out.code, out.state, site.serving) == (1, "failed", "1.0")
    assert "before_switch[0] failed (exit 3)" in out.reasons[0]
    assert (tmp_path / "site" / "failure-note").read_text().strip() == "failed"


def test_the_loop_guard_stops_automatic_rollbacks(store: Store, tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    p = pipeline(store, site, max_consecutive_auto_rollbacks=1)
    p.deploy("1.0")
    assert p.deploy("1.1-bad").code == 3
    out = p.deploy("1.2-bad")
    assert out.code == 7 and "a person must look" in out.reasons[-1]
    assert site.serving == "1.2-bad"  # left as it is for a person: nothing rolled back blindly


def test_a_rollback_by_hand_and_a_refused_one(store: Store, tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    p = pipeline(store, site)
    p.deploy("1.0")
    p.deploy("1.1")
    out = p.rollback()
    assert (out.code, out.version, site.serving) == (0, "1.0", "1.0")
    assert site.checked[-1] == ("1.0", True)  # fast path: smoke only
    assert [(r.version, r.state) for r in store.list_releases("prod")][:2] == [
        ("1.0", "live"),
        ("1.1", "rolled_back"),
    ]
    with pytest.raises(RollbackError, match="9.9 is not a known good release") as refused:
        p.rollback(to="9.9")
    assert refused.value.exit_code == 4 and site.serving == "1.0"


def test_a_held_lock_refuses_a_second_deploy(store: Store, tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    with (
        acquire(store, "prod", reason="deploy 2.0", owner="ana@ci-1"),
        pytest.raises(DeployLockedError, match="ana@ci-1") as locked,
    ):
        pipeline(store, site).deploy("1.0")
    assert locked.value.exit_code == 6 and site.serving == ""


_KILLED = """
import pathlib, sys, time
from redline.deploy.pipeline import Pipeline, Verdict
from redline.deploy.recipes import CommandRecipe
from redline.store import open_store

def verify(ctx, smoke):
    if sys.argv[4] == "verify":  # killed while verifying
        (pathlib.Path(sys.argv[2]) / "started").touch()
        time.sleep(30)
    return Verdict("pass", "promote")

with open_store(sys.argv[1]) as store:
    recipe = CommandRecipe(sys.argv[3], timeout=60, cwd=sys.argv[2])
    Pipeline(store, "prod", recipes={"api": recipe}, verify=verify).deploy("1.1")
"""


@pytest.mark.parametrize(
    ("deploy", "at"),
    [
        ("touch started && sleep 30", "recipe"),  # before its switch: it may as well have
        ("printf %s {version} > current && touch started && sleep 30", "recipe"),  # after
        ("printf %s {version} > current", "verify"),  # switched, killed while verifying
    ],
)
def test_a_killed_deploy_is_recovered(store: Store, tmp_path: Path, deploy: str, at: str) -> None:
    """SIGKILL in the middle of the recipe; the next `recover` rolls back to the known good
    (a kill inside the recipe cannot tell whether the switch happened) and frees the lock."""
    site = Site(tmp_path / "site")
    p = pipeline(store, site)
    p.deploy("1.0")
    url = f"sqlite:///{(tmp_path / 'store.db').as_posix()}"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED), url, str(site.root), deploy, at],
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not (site.root / "started").exists():
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    dead = [r for r in store.list_releases("prod") if r.state in ("deploying", "verifying")]
    assert len(dead) == 1 and dead[0].steps[-1]["outcome"] == "running"  # the journal says where
    outcomes = recover(pipeline(store, site))
    assert [o.state for o in outcomes] == ["rolled_back"]
    where = "api: deploy" if at == "recipe" else "verify"
    assert f"interrupted at {where} (running)" in outcomes[0].reasons[0]
    assert site.serving == "1.0"  # whatever the killed step did, the known good serves again
    assert current_lock(store, "prod") is None
    assert [r.state for r in store.list_releases("prod")] == ["rolled_back", "live"]
    assert recover(pipeline(store, site)) == []  # nothing left to recover


def test_the_next_deploy_repairs_a_killed_one_first(store: Store, tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    p = pipeline(store, site)
    p.deploy("1.0")
    killed = store.record_release(environment="prod", version="1.1", state="verifying")
    out = p.deploy("1.2")
    assert out.code == 0 and site.serving == "1.2"
    assert [o.state for o in p.recovered] == ["rolled_back"]
    assert store.get_release(killed).state == "rolled_back"  # type: ignore[union-attr]


def test_a_lost_lock_ends_the_release(store: Store, tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    url = f"sqlite:///{(tmp_path / 'store.db').as_posix()}"
    unlock = (
        f'{sys.executable} -c "from redline.store import open_store; '
        "from redline.deploy.lock import force_unlock; "
        f"s = open_store('{url}'); force_unlock(s, 'prod', reason='test')\""
    )
    recipe = CommandRecipe(DEPLOY, timeout=20, cwd=site.root, hooks=Hooks(after_switch=[unlock]))
    with pytest.raises(DeployLockedError):
        pipeline(store, site, recipes={"api": recipe}).deploy("1.0")
    [release] = store.list_releases("prod")
    assert release.state == "failed" and "lost the lock" in (release.reason or "")


def test_a_rollback_by_hand_after_the_loop_guard_and_onto_itself(
    store: Store, tmp_path: Path
) -> None:
    site = Site(tmp_path / "site")
    p = pipeline(store, site, max_consecutive_auto_rollbacks=1)
    p.deploy("1.0")
    p.deploy("1.1-bad")
    assert p.deploy("1.2-bad").code == 7 and site.serving == "1.2-bad"
    out = p.rollback()  # a person decides: back to the last known good
    assert (out.code, out.version, site.serving) == (0, "1.0", "1.0")
    again = p.rollback(to="1.0")  # onto what already serves: it stays known good
    assert again.code == 0
    assert [r.state for r in store.list_releases("prod", state="live")][:1] == ["live"]
    assert store.list_releases("prod", state="rolled_back")[0].version == "1.1-bad"


def test_release_directories_keep_the_failed_one_and_never_return_to_it(
    store: Store, tmp_path: Path
) -> None:
    from redline.deploy.from_config import ReleasesRecipe
    from redline.deploy.releasedir import FAILED_MARK, ReleaseDir, ReleaseDirRecipe

    root = tmp_path / "srv"
    rd = ReleaseDir(root, keep_releases=5, shared=("log",))
    recipe = ReleasesRecipe(ReleaseDirRecipe(rd, populate="printf %s {version} > VERSION"))

    class Served(Site):
        @property
        def serving(self) -> str:
            path = root / "current" / "VERSION"
            return path.read_text() if path.exists() else ""

    site = Served(tmp_path / "site")
    p = Pipeline(store, "prod", recipes={"api": recipe}, verify=site.verify)
    assert p.deploy("1.0").code == 0
    assert p.deploy("2.0-bad").code == 3
    assert site.serving == "1.0"
    failed = [r for r in rd.releases() if rd.failed(r)]
    assert len(failed) == 1 and (rd.path_of(failed[0]) / FAILED_MARK).exists()
    assert (rd.path_of(failed[0]) / "VERSION").read_text() == "2.0-bad"  # kept to inspect
    assert rd.find("2.0-bad") is None  # never a rollback target
    for release_id in rd.releases():
        if rd.version_of(release_id) == "1.0":
            shutil.rmtree(rd.path_of(release_id))  # cleaned up behind redline's back
    assert p.deploy("2.1-bad").code == 4  # nothing to roll back to: refused, recorded
    assert store.list_releases("prod")[0].state == "failed"
