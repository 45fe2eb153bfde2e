"""attento.files: a folder is written whole or not at all, durably, and locked while in use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from attento.errors import UserError
from attento.files import LOCK_FILE, atomic_folder, lock_folder, recover


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def contents(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


def test_a_nonempty_folder_is_replaced_only_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        write(tmp, {"a.txt": "one", "sub/b.txt": "two"})
    assert contents(out) == {"a.txt": "one", "sub/b.txt": "two"}
    refused = pytest.raises(UserError, match=r"already holds files \(a.txt, sub\).*--force")
    with refused, atomic_folder(out):
        pytest.fail("the block must not run")
    with atomic_folder(out, replace=True) as tmp:
        write(tmp, {"c.txt": "three"})
    assert contents(out) == {"c.txt": "three"}  # replaced whole, nothing of the old left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failure_while_writing_leaves_the_old_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        write(tmp, {"model.bin": "old weights"})
    with pytest.raises(OSError, match="disk full"), atomic_folder(out, replace=True) as tmp:
        write(tmp, {"model.bin": "new wei"})
        raise OSError("disk full")
    assert contents(out) == {"model.bin": "old weights"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("state", ["between renames", "before the first rename", "after both"])
def test_recover_after_a_crash(tmp_path: Path, state: str) -> None:
    """A kill at any point of the swap leaves one whole folder, which recover puts in place."""
    out, old, tmp = tmp_path / "out", tmp_path / ".out.old", tmp_path / ".out.tmp"
    write(out, {"w": "previous"})
    if state == "between renames":
        out.rename(old)
        write(tmp, {"w": "new"})
        expected = "previous"
    elif state == "before the first rename":
        write(tmp, {"w": "new, half writ"})
        expected = "previous"
    else:
        write(old, {"w": "older"})
        expected = "previous"
    recover(out)
    assert contents(out) == {"w": expected}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def record(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every fsync (of the path its descriptor names) and rename, in order."""
    events: list[tuple[str, str]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src, dst, *args, **kwargs) -> None:
        events.append(("rename", str(src)))
        real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    return events


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name descriptors")
def test_files_and_folders_are_fsynced_before_and_after_the_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut must not find a renamed folder whose files never reached the disk."""
    out = tmp_path / "out"
    write(out, {"old": "x"})
    events = record(monkeypatch)
    with atomic_folder(out, replace=True) as tmp:
        write(tmp, {"a": "1", "sub/b": "2"})
    renames = [i for i, (kind, _) in enumerate(events) if kind == "rename"]
    assert [events[i][1] for i in renames] == [str(out), str(tmp)]  # out aside, tmp in
    before = {path for kind, path in events[: renames[0]] if kind == "fsync"}
    assert {str(tmp / "a"), str(tmp / "sub" / "b"), str(tmp / "sub"), str(tmp)} <= before
    # the parent's list of names is flushed after each rename
    for i, j in zip(renames, [*renames[1:], len(events)], strict=True):
        assert ("fsync", str(tmp_path)) in events[i + 1 : j]


HOLDER = """
import sys, time
from pathlib import Path
from attento.files import atomic_folder, lock_folder

out = Path(sys.argv[1])
with lock_folder(out):
    if sys.argv[2] == "swap":  # the lock must follow the folder through a swap
        with atomic_folder(out, replace=True) as tmp:
            (tmp / "w").write_text("new")
    print("locked", flush=True)
    time.sleep(120)
"""


def hold(out: Path, mode: str = "hold") -> subprocess.Popen:
    """Another process that holds `out`'s lock until killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out), mode], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline() == "locked\n"
    return holder


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize("mode", ["hold", "swap"])
def test_a_locked_folder_names_its_holder_until_the_holder_dies(tmp_path: Path, mode: str) -> None:
    out = tmp_path / "run"
    holder = hold(out, mode)
    try:
        with pytest.raises(UserError) as error, lock_folder(out):
            pytest.fail("two processes held one folder")
        message = str(error.value)
        assert f"pid {holder.pid} on {socket.gethostname()}" in message
        assert "\n" not in message
    finally:
        kill(holder)
    with lock_folder(out):  # the kernel released the lock of the killed process
        assert (out / LOCK_FILE).is_file()


def test_recover_leaves_a_live_writers_swap_alone(tmp_path: Path) -> None:
    """Between a writer's two renames OUT is missing: a second process must not take that
    for a crash and put the old folder back under the writer's feet."""
    out, old, tmp = tmp_path / "run", tmp_path / ".run.old", tmp_path / ".run.tmp"
    holder = hold(out)
    try:
        write(out, {"w": "previous"})
        out.rename(old)  # as the holder does mid-swap
        write(tmp, {"w": "new"})
        recover(out)
        assert not out.exists() and old.is_dir() and tmp.is_dir()
    finally:
        kill(holder)
    recover(out)  # the writer is dead now: its swap is undone
    assert contents(out) == {"w": "previous"} and not old.exists() and not tmp.exists()


def test_a_lock_that_found_nothing_to_do_leaves_no_trace(tmp_path: Path) -> None:
    """A command that fails at its start (bad input) must leave no file behind."""
    out = tmp_path / "new" / "run"
    with pytest.raises(UserError, match="bad input"), lock_folder(out):
        raise UserError("bad input")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="bad input"), lock_folder(tmp_path / "empty"):
        raise UserError("bad input")
    assert list((tmp_path / "empty").iterdir()) == []
