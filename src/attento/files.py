"""Folders written without losing one: built beside, made durable, swapped in; locked while used.

Every folder attento writes (a model, a tokenizer, a training checkpoint) is built whole in
a hidden sibling `.OUT.tmp`, each of its files and folders fsynced, then swapped in with two
renames, OUT -> `.OUT.old` and `.OUT.tmp` -> OUT, the parent folder fsynced after each; then
the old folder is deleted. Whenever the process stops, by an error, a kill or a power cut,
OUT or `.OUT.old` is a whole folder, and `recover` finishes the job: it puts `.OUT.old` back
when the crash came between the renames and deletes what is left over. Every reader and
writer of such a folder calls `recover` before looking at it, so no one mistakes the
half-swapped state for an empty folder and deletes the previous version.

A folder that one process works in for a long time (a training run) is locked with
`lock_folder`: flock on the file `.lock` inside it, which the kernel releases however the
process ends. The lock file holds who took it (pid, host, start time), for the message the
next one gets. Its inode is hard-linked into each new version before the swap, so the lock
follows the folder through the renames; while a swap is under way the same inode is found
in `.OUT.old`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from attento.errors import UserError

LOCK_FILE = ".lock"
_held: set[tuple[int, int]] = set()  # (device, inode) of the lock files this process holds


def tmp_sibling(out: Path) -> Path:
    return _parent(out) / f".{_absolute(out).name}.tmp"


def old_sibling(out: Path) -> Path:
    return _parent(out) / f".{_absolute(out).name}.old"


def _absolute(path: Path) -> Path:
    """`path` without "." or ".." in it, so that its name is a real name ("." has none)."""
    return Path(os.path.abspath(path))


def _parent(path: Path) -> Path:
    return _absolute(path).parent


# --- durability ------------------------------------------------------------------------------


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's contents (a folder: its list of names) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file and folder under `root`, children before their folder."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fsync_path(Path(folder) / name)
        fsync_path(Path(folder))


# --- the swap --------------------------------------------------------------------------------


def swap_in(tmp: Path, out: Path) -> None:
    """Make the whole folder `tmp` durable and put it in the place of `out`."""
    lock = out / LOCK_FILE
    if lock.is_file() and not (tmp / LOCK_FILE).exists():
        # the same inode, so whoever holds the lock keeps it (a file system without hard
        # links loses the lock at the swap, not the data)
        with contextlib.suppress(OSError):
            os.link(lock, tmp / LOCK_FILE)
    fsync_tree(tmp)
    if out.exists():
        out.rename(old_sibling(out))
        fsync_path(_parent(out))
    tmp.rename(out)
    fsync_path(_parent(out))
    shutil.rmtree(old_sibling(out), ignore_errors=True)


def recover(out: Path) -> None:
    """Finish or undo a swap that a crash interrupted, unless its writer is still at work.

    A process that holds the folder's lock may be between its two renames: then nothing is
    touched (that process finishes the swap itself)."""
    tmp, old = tmp_sibling(out), old_sibling(out)
    if not (tmp.exists() or old.exists()):
        return
    with _other_holder(out) as holder:
        if holder is not None:
            return
        if not out.exists() and old.exists():
            old.rename(out)
            fsync_path(_parent(out))
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover)


@contextlib.contextmanager
def _other_holder(out: Path) -> Iterator[str | None]:
    """Who holds the lock of `out` if another live process does; else None, and then nobody
    else can take the lock during the block."""
    path = next((p for p in (out / LOCK_FILE, old_sibling(out) / LOCK_FILE) if p.is_file()), None)
    if path is None:
        yield None  # never locked: a live lock always has its file
        return
    fd = os.open(path, os.O_RDWR)
    try:
        stat = os.fstat(fd)
        if (stat.st_dev, stat.st_ino) not in _held:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield _holder(fd)
                return
        yield None
    finally:
        os.close(fd)  # closing releases a lock taken here


def _in_use(out: Path, holder: str) -> UserError:
    return UserError(
        f"{out} is in use by another attento process ({holder}): wait for it to end, or stop it"
    )


# --- writing a folder ------------------------------------------------------------------------


def check_replaceable(out: Path, replace: bool) -> None:
    """Refuse to write over anything unless asked to: a non-empty folder (a model, a tokenizer,
    someone's files) is replaced only with `replace`; a file in the way never is."""
    out = Path(out)
    recover(out)
    with _other_holder(out) as holder:
        if holder is not None:
            raise _in_use(out, holder)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not a folder: give a new folder")
    if replace or not out.is_dir():
        return
    names = sorted(p.name for p in out.iterdir())
    if names:
        what = "a model" if "config.json" in names else "files"
        if what == "files" and "tokenizer.json" in names:
            what = "a tokenizer"
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise UserError(
            f"{out} already holds {what} ({shown}): give a new folder, or --force to replace it"
        )


@contextlib.contextmanager
def atomic_folder(out: str | Path, replace: bool = False) -> Iterator[Path]:
    """Build the folder `out` in a temporary sibling (yielded), then swap it in whole.

    If the block raises, the sibling is deleted and `out` is as it was. Without `replace`, a
    non-empty `out` is refused before anything is written."""
    out = Path(out)
    check_replaceable(out, replace)
    tmp = tmp_sibling(out)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    swap_in(tmp, out)


# --- locking a folder ------------------------------------------------------------------------


@contextlib.contextmanager
def lock_folder(out: str | Path) -> Iterator[Path]:
    """Hold the folder `out` for this process (created if missing), or fail in one line
    naming the process that holds it. A crashed swap is recovered once the lock is held.

    If the block leaves `out` holding nothing but a lock file this call made, that file and
    the folders this call created are removed again: a command that failed at its start
    leaves no trace."""
    out = Path(out)
    created = [p for p in (out, *out.parents) if not p.exists()]
    had_lock = (out / LOCK_FILE).exists() or (old_sibling(out) / LOCK_FILE).exists()
    fd = _acquire(out)
    try:
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        yield out
    finally:
        stat = os.fstat(fd)
        _held.discard((stat.st_dev, stat.st_ino))
        if not had_lock and out.is_dir() and [p.name for p in out.iterdir()] == [LOCK_FILE]:
            (out / LOCK_FILE).unlink()
            for folder in created:
                with contextlib.suppress(OSError):
                    folder.rmdir()
        os.close(fd)


def _acquire(out: Path) -> int:
    """An open, flocked file descriptor of `out`'s lock file, which is `out/.lock`."""
    for _ in range(100):  # each round that fails met a swap under way: a few at most
        fd = _open_lock(out)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise _in_use(out, holder) from None
        stat = os.fstat(fd)
        _held.add((stat.st_dev, stat.st_ino))
        recover(out)  # the lock found in `.OUT.old` moves back into OUT with its folder
        try:
            current = os.stat(out / LOCK_FILE)
        except FileNotFoundError:
            current = None
        if current is not None and (current.st_dev, current.st_ino) == (stat.st_dev, stat.st_ino):
            return fd
        _held.discard((stat.st_dev, stat.st_ino))
        os.close(fd)
    raise UserError(f"could not lock {out}: its contents keep changing")


def _open_lock(out: Path) -> int:
    try:
        if not out.exists() and old_sibling(out).is_dir():
            return os.open(old_sibling(out) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        out.mkdir(parents=True, exist_ok=True)
        return os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"{out} is a file, or inside one: give a folder") from None
    except OSError as e:
        raise UserError(f"cannot write in {out}: {e.strerror}") from None


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode())
        return f"pid {info['pid']} on {info['host']}, since {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %z")
