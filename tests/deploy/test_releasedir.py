"""The release directory: real directories, symlinks, scripts and concurrent reader processes."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import subprocess
import sys
import time
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from redline._errors import DeployError, RollbackError
from redline.deploy.recipes import DeployContext, Hooks
from redline.deploy.releasedir import ReleaseDir, ReleaseDirRecipe

SCRIPTS = Path(__file__).parent / "scripts"
SHARED = ("log", "config/app.env")


def ctx(version: str, previous: str | None = None) -> DeployContext:
    return DeployContext(version=version, previous_version=previous, env="prod", service="api")


def tree_hash(root: Path) -> str:
    """A digest of every path under ``root``: names, kinds, modes, link targets, bytes."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            digest.update(f"L {rel} -> {os.readlink(path)}\n".encode())
        elif path.is_dir():
            digest.update(f"D {rel} {path.stat().st_mode:o}\n".encode())
        else:
            digest.update(f"F {rel} {path.stat().st_mode:o}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def recipe(tmp_path: Path, **kwargs: object) -> ReleaseDirRecipe:
    rd = ReleaseDir(tmp_path / "app", keep_releases=3, shared=SHARED)
    return ReleaseDirRecipe(
        rd,
        populate=f"{SCRIPTS}/build_release.sh {{version}}",
        timeout=10,
        **kwargs,  # type: ignore[arg-type]
    )


# -- layout -------------------------------------------------------------------------------


def test_prepare_and_switch_make_the_capistrano_layout(tmp_path: Path) -> None:
    rd = ReleaseDir(tmp_path / "app", shared=SHARED)
    assert rd.current() is None and rd.releases() == []
    release = rd.prepare("1.0", populate=f"{SCRIPTS}/build_release.sh {{version}}")
    assert release.ok, [s.output for s in release.steps]
    assert [s.name for s in release.steps] == ["prepare", "populate", "link_shared"]
    assert release.path == tmp_path / "app" / "releases" / release.id
    assert rd.releases() == [release.id]
    assert rd.current() is None  # prepared, not yet switched
    assert rd.switch(release.id) is None
    assert rd.current() == release.id
    assert os.readlink(tmp_path / "app" / "current") == f"releases/{release.id}"
    assert (tmp_path / "app" / "current" / "VERSION").read_text() == "1.0\n"
    # shared paths are relative links: the tree can be moved as a whole
    assert os.readlink(release.path / "log") == "../../shared/log"
    assert os.readlink(release.path / "config" / "app.env") == "../../../shared/config/app.env"


def test_release_ids_sort_in_the_order_made_and_use_safe_characters(tmp_path: Path) -> None:
    rd = ReleaseDir(tmp_path)
    made = []
    for version in ["2.0", "feature/x y;rm -rf", "1.0", "../etc", "2.0"]:
        release = rd.prepare(version)
        assert release.ok
        made.append(release.id)
    assert rd.releases() == made
    for rid in made:
        assert set(rid) <= set(
            "0123456789TZabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-"
        )
    assert rd.version_of(made[1]) == "feature-x-y-rm--rf"
    assert rd.find("2.0") == made[4]
    assert rd.find("3.0") is None
    assert sorted(os.listdir(tmp_path / "releases")) == made


def test_shared_paths_are_created_seeded_once_and_never_overwritten(tmp_path: Path) -> None:
    rd = ReleaseDir(tmp_path, shared=("log", "config/app.env", "tmp/pids", ".env", "uploads/"))
    first = rd.prepare("1.0", populate=f"{SCRIPTS}/build_release.sh {{version}}")
    assert first.ok, first.steps[-1].output
    shared = tmp_path / "shared"
    # the first release's own copies seed shared/; the rest are created empty
    assert (shared / "config" / "app.env").read_text().startswith("APP_VERSION=1.0")
    assert (shared / "log" / "build.log").exists()
    assert (shared / "tmp" / "pids").is_dir() and (shared / "uploads").is_dir()
    assert (shared / ".env").is_file() and (shared / ".env").read_text() == ""
    (shared / "config" / "app.env").write_text("DATABASE=operator-edited\n")
    before = tree_hash(shared)
    second = rd.prepare("2.0", populate=f"{SCRIPTS}/build_release.sh {{version}}")
    assert second.ok
    assert tree_hash(shared) == before
    assert (second.path / "config" / "app.env").read_text() == "DATABASE=operator-edited\n"
    assert (second.path / "VERSION").read_text() == "2.0\n"


def test_a_populate_callable_and_a_failing_populate(tmp_path: Path) -> None:
    rd = ReleaseDir(tmp_path)

    def build(path: Path) -> None:
        (path / "VERSION").write_text("3.0\n")

    assert rd.prepare("3.0", populate=build).ok
    broken = rd.prepare("4.0", populate="echo compiling; exit 7")
    assert not broken.ok
    assert [(s.name, s.exit_code) for s in broken.steps] == [("prepare", 0), ("populate", 7)]
    assert broken.path.is_dir()  # kept for inspection


def test_switching_to_a_missing_release_or_over_a_real_directory_is_an_error(
    tmp_path: Path,
) -> None:
    rd = ReleaseDir(tmp_path)
    with pytest.raises(DeployError, match="no release"):
        rd.switch("20260101T000000000000Z-1.0")
    (tmp_path / "current").mkdir()
    with pytest.raises(DeployError, match="not a symlink"):
        rd.current()


def test_a_switch_removes_temporary_links_left_by_a_killed_switch(tmp_path: Path) -> None:
    rd = ReleaseDir(tmp_path)
    release = rd.prepare("1.0")
    proc = multiprocessing.get_context("spawn").Process(target=int)
    proc.start()
    proc.join()
    assert proc.pid is not None
    stale = tmp_path / f".current.tmp.{proc.pid}.deadbeef"
    os.symlink("releases/gone", stale)
    rd.switch(release.id)
    assert not os.path.lexists(stale)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# -- the atomic switch under concurrent readers -------------------------------------------


def read_current(
    root: str,
    valid: dict[str, str],
    stop: Event,
    reads: Synchronized[int],
    problems: Synchronized[int],
    seen: Synchronized[int],
) -> None:
    """Resolve ``current`` and read a file inside it until told to stop."""
    current = os.path.join(root, "current")
    real = {os.path.realpath(os.path.join(root, target)): target for target in valid}
    while not stop.is_set():
        try:
            target = os.readlink(current)
            resolved = os.path.realpath(current)
            with open(os.path.join(current, "VERSION")) as f:
                text = f.read()
        except OSError:
            problems.value += 1
        else:
            if target not in valid or resolved not in real or text not in valid.values():
                problems.value += 1
            else:
                seen.value = int(text)
        reads.value += 1


def test_readers_never_see_a_missing_or_partial_current_during_100_switches(
    tmp_path: Path,
) -> None:
    rd = ReleaseDir(tmp_path)
    ids = []
    for n in (1, 2, 3):
        release = rd.prepare(str(n), populate=f"printf {n} > VERSION")
        ids.append(release.id)
    rd.switch(ids[0])
    valid = {f"releases/{rid}": str(n) for n, rid in enumerate(ids, 1)}
    mp = multiprocessing.get_context("spawn")
    stop = mp.Event()
    readers = []
    for _ in range(2):
        reads, problems, seen = (mp.Value("q", 0, lock=False) for _ in range(3))
        proc = mp.Process(
            target=read_current, args=(str(tmp_path), valid, stop, reads, problems, seen)
        )
        proc.start()
        readers.append((proc, reads, problems, seen))
    try:

        def wait_until_all_see(n: int) -> None:
            until = time.monotonic() + 30
            while any(seen.value != n for *_, seen in readers):
                assert time.monotonic() < until, f"readers never saw release {n}"
                assert all(proc.is_alive() for proc, *_ in readers)
                time.sleep(0.0005)

        wait_until_all_see(1)
        for i in range(100):
            n = (i + 1) % 3 + 1  # 2, 3, 1, 2, ...: always a different release
            rd.switch(ids[n - 1])
            wait_until_all_see(n)  # each switch happens while every reader is reading
    finally:
        stop.set()
        for proc, *_ in readers:
            proc.join(10)
    total = sum(reads.value for _, reads, _, _ in readers)
    assert [problems.value for _, _, problems, _ in readers] == [0, 0]
    assert total >= 2000, f"only {total} reads"


# -- the recipe: deploy, hooks, rollback, cleanup -----------------------------------------


def test_deploy_switches_then_reloads_and_runs_after_switch(tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    r = recipe(
        tmp_path,
        reload=f"echo reload {{release_dir}} {{current}} >> {log}",
        hooks=Hooks(
            before_switch=[f"test -x bin/app && echo before {{version}} >> {log}"],
            after_switch=[f"./bin/app >> {log}"],
        ),
    )
    steps = r.deploy(ctx("1.0"))
    assert [s.name for s in steps] == [
        "prepare",
        "populate",
        "link_shared",
        "before_switch[0]",
        "switch",
        "reload",
        "after_switch[0]",
    ], [s.output for s in steps]
    assert all(s.ok for s in steps)
    current = r.release_dir.current()
    assert current is not None
    path = r.release_dir.path_of(current)
    assert log.read_text().splitlines() == [
        "before 1.0",
        f"reload {path} {tmp_path / 'app' / 'current'}",
        "serving 1.0",
    ]


def test_without_reload_stop_then_start_run_after_the_switch(tmp_path: Path) -> None:
    log = tmp_path / "order.log"
    r = recipe(
        tmp_path,
        stop=f"echo stop $(cat {{current}}/VERSION) >> {log}",
        start=f"echo start $(cat {{current}}/VERSION) >> {log}",
    )
    assert all(s.ok for s in r.deploy(ctx("1.0")))
    assert [s.name for s in r.deploy(ctx("2.0", "1.0"))][-3:] == ["switch", "stop", "start"]
    assert log.read_text().splitlines() == ["stop 1.0", "start 1.0", "stop 2.0", "start 2.0"]


def test_a_failing_before_switch_hook_leaves_the_old_release_serving(tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    r = recipe(
        tmp_path,
        reload=f"echo reload >> {log}",
        hooks=Hooks(
            before_switch=["echo smoke test failed >&2; exit 1"],
            on_failure=[f"echo on_failure {{version}} >> {log}"],
        ),
    )
    rd = r.release_dir
    first = rd.prepare("1.0", populate=f"{SCRIPTS}/build_release.sh {{version}}")
    rd.switch(first.id)
    steps = r.deploy(ctx("2.0", "1.0"))
    assert [(s.name, s.ok) for s in steps][-2:] == [
        ("before_switch[0]", False),
        ("on_failure[0]", True),
    ]
    assert "switch" not in [s.name for s in steps]
    assert rd.current() == first.id
    assert (tmp_path / "app" / "current" / "VERSION").read_text() == "1.0\n"
    assert log.read_text() == "on_failure 2.0\n"  # no reload ran
    assert len(rd.releases()) == 2  # the failed release stays for inspection


def test_rollback_restores_the_previous_release_with_shared_untouched(tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    r = recipe(
        tmp_path,
        reload=f"echo reload $(cat {{current}}/VERSION) >> {log}",
        hooks=Hooks(
            after_switch=["exit 1"],  # version 2 is broken once it serves
            after_rollback=[f"echo after_rollback {{version}} from {{previous_version}} >> {log}"],
        ),
    )
    rd = r.release_dir
    good = rd.prepare("1.0", populate=f"{SCRIPTS}/build_release.sh {{version}}")
    rd.switch(good.id)
    shared = tmp_path / "app" / "shared"
    (shared / "log" / "app.log").write_bytes(os.urandom(4096))
    (shared / "config" / "app.env").write_text("DATABASE=postgres://db/app\n")
    before = tree_hash(shared)

    steps = r.deploy(ctx("2.0", "1.0"))
    assert [(s.name, s.ok) for s in steps][-3:] == [
        ("switch", True),
        ("reload", True),
        ("after_switch[0]", False),
    ]
    bad = rd.current()
    assert bad is not None and bad != good.id
    assert (tmp_path / "app" / "current" / "VERSION").read_text() == "2.0\n"

    back = r.rollback_to(good.id, ctx("1.0", "2.0"))
    assert [(s.name, s.ok) for s in back] == [
        ("switch", True),
        ("reload", True),
        ("after_rollback[0]", True),
    ]
    assert rd.current() == good.id
    assert (tmp_path / "app" / "current" / "VERSION").read_text() == "1.0\n"
    assert (tmp_path / "app" / "current" / "config" / "app.env").read_text() == (
        "DATABASE=postgres://db/app\n"
    )
    assert tree_hash(shared) == before
    assert bad in rd.releases()  # kept for inspection
    assert log.read_text().splitlines() == [
        "reload 2.0",
        "reload 1.0",
        "after_rollback 1.0 from 2.0",
    ]


def test_rollback_to_a_release_not_on_disk_is_refused_before_anything_changes(
    tmp_path: Path,
) -> None:
    log = tmp_path / "hooks.log"
    r = recipe(tmp_path, reload=f"echo reload >> {log}")
    assert all(s.ok for s in r.deploy(ctx("1.0")))
    before = r.release_dir.current()
    with pytest.raises(RollbackError) as caught:
        r.rollback_to("20200101T000000000000Z-0.9", ctx("0.9", "1.0"))
    assert caught.value.exit_code == 4
    assert before is not None and before in str(caught.value)
    assert r.release_dir.current() == before
    assert log.read_text() == "reload\n"


def test_cleanup_never_deletes_current_nor_protected_releases(tmp_path: Path) -> None:
    rd = ReleaseDir(tmp_path, keep_releases=3, shared=("log",))
    ids = [rd.prepare(f"{n}.0", populate=f"printf {n} > VERSION").id for n in range(8)]
    (tmp_path / "shared" / "log" / "app.log").write_text("keep me\n")
    shared_before = tree_hash(tmp_path / "shared")
    rd.switch(ids[1])  # rolled back far: current is old
    protect = {ids[0], ids[3]}  # the last known good, the failed one kept for inspection
    deleted = rd.cleanup(protect=protect)
    assert deleted == [ids[2], ids[4]]
    assert rd.releases() == [ids[0], ids[1], ids[3], *ids[5:]]
    assert rd.current() == ids[1]
    assert tree_hash(tmp_path / "shared") == shared_before  # links removed, never followed
    assert rd.cleanup(keep=1, protect=protect) == [ids[5], ids[6]]
    assert rd.releases() == [ids[0], ids[1], ids[3], ids[7]]
    assert [n for n in os.listdir(tmp_path / "releases") if n.startswith(".")] == []


def test_cleanup_finishes_a_cleanup_that_was_killed_halfway(tmp_path: Path) -> None:
    rd = ReleaseDir(tmp_path, keep_releases=1)
    ids = [rd.prepare(str(n)).id for n in range(3)]
    rd.switch(ids[2])
    os.rename(tmp_path / "releases" / ids[0], tmp_path / "releases" / f".trash.{ids[0]}")
    assert rd.releases() == ids[1:]  # a half-deleted release is never a release
    assert rd.cleanup() == [ids[1]]
    assert os.listdir(tmp_path / "releases") == [ids[2]]


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="keep_releases"):
        ReleaseDir(tmp_path, keep_releases=0)
    for bad in ("/etc/passwd", "../outside", ""):
        with pytest.raises(DeployError, match="shared path"):
            ReleaseDir(tmp_path, shared=(bad,))
    with pytest.raises(DeployError, match=r"\{revision\} in the start command"):
        ReleaseDirRecipe(ReleaseDir(tmp_path), start="./start {revision}")


SWITCHER = """
import sys
from redline.deploy.releasedir import ReleaseDir
rd = ReleaseDir(sys.argv[1])
ids = rd.releases()
print("ready", flush=True)
i = 0
while True:
    rd.switch(ids[i % len(ids)])
    i += 1
"""


def test_a_switch_killed_at_any_moment_leaves_a_valid_current(tmp_path: Path) -> None:
    rd = ReleaseDir(tmp_path)
    ids = [rd.prepare(str(n), populate=f"printf {n} > VERSION").id for n in (1, 2, 3)]
    rd.switch(ids[0])
    rng = random.Random(6)
    for _ in range(10):
        proc = subprocess.Popen(
            [sys.executable, "-c", SWITCHER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0, 0.02))  # somewhere in the middle of many switches
        proc.kill()
        proc.wait()
        proc.stdout.close()
        assert rd.current() in ids
        assert (tmp_path / "current" / "VERSION").read_text() in {"1", "2", "3"}
    rd.switch(ids[2])  # and the next switch sweeps any temporary link a kill left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "releases"]
