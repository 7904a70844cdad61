"""The one atomic file write: a temporary file in the same folder, fsync, rename, fsync the folder.

A crash or a full disk leaves either the old file or the new one, never half of one. Every
writer of Studio (settings, queue, gallery images and index, model sources, pickle consent,
preview fits, downloads) goes through `write_atomic`.
"""

from __future__ import annotations

import errno
import os
import secrets
import time
from pathlib import Path


class SaveError(OSError):
    """A file could not be written; the message says why in words a person reads.

    `image` is the unsaved image when there is one, so that it can be saved elsewhere.
    """

    def __init__(self, message: str, errno: int | None = None, image: object = None) -> None:
        super().__init__(message)
        self.errno = errno
        self.image = image


TEMP_PREFIX = ".tmp-"  # what a killed writer can leave behind; see `remove_stale_temporaries`


def write_atomic(
    path: Path, data: bytes | str, *, durable: bool = True, replace: bool = True, private: bool = False
) -> Path:
    """Write `data` (text is UTF-8) to `path` atomically and return the path written.

    With `replace=False` an existing file is never overwritten: a suffix " (2)", " (3)"...
    is added instead. With `durable=False` nothing is fsynced (for caches). The file gets
    the permissions the umask gives a new file, as if written directly; with `private=True`
    (a file holding a secret) it is readable by its owner only, from its first byte on.
    Raises SaveError; no temporary file is left behind.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = path.parent
    try:
        make_folder(folder, durable=durable)
        fd, tmp = _create_temporary(folder, path.suffix, 0o600 if private else 0o666)
    except OSError as exc:
        raise SaveError(describe_os_error(exc, path), exc.errno) from exc
    try:
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        final = _move_into_place(tmp, path, replace)
        if durable:
            fsync_dir(folder)
        return final
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # our own temporary file, never a user's image
        if isinstance(exc, SaveError):
            raise
        raise SaveError(describe_os_error(exc, path), exc.errno) from exc
    except BaseException:  # Ctrl+C or a kill signal turned exception: leave no temporary behind
        tmp.unlink(missing_ok=True)
        raise


def make_folder(folder: Path, *, durable: bool = True) -> None:
    """Create `folder` and its missing parents; when durable, each new name is fsynced into
    its parent, so a power cut soon after cannot lose the folder and the files in it."""
    missing: list[Path] = []
    current = folder
    while not current.is_dir() and current.parent != current:
        missing.append(current)
        current = current.parent
    if not missing:
        return
    folder.mkdir(parents=True, exist_ok=True)
    if durable:
        for made in reversed(missing):
            fsync_dir(made.parent)


def _create_temporary(folder: Path, suffix: str, mode: int = 0o666) -> tuple[int, Path]:
    # os.open with 0o666 lets the umask decide the mode; mkstemp's 0600 would survive the rename
    # and hide the gallery from backup users and other accounts.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = folder / f"{TEMP_PREFIX}{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def remove_stale_temporaries(folder: Path, *, older_than: float = 600.0, recursive: bool = True) -> int:
    """Delete temporary files that killed writers left in `folder`; returns how many.

    Only Studio's own `.tmp-*` names are touched, and only once they are old enough that no
    live writer can still be filling them.
    """
    removed = 0
    cutoff = time.time() - older_than
    pattern = f"**/{TEMP_PREFIX}*" if recursive else f"{TEMP_PREFIX}*"
    try:
        candidates = list(folder.glob(pattern))
    except OSError:
        return 0
    for candidate in candidates:
        try:
            if candidate.is_file() and candidate.stat().st_mtime < cutoff:
                candidate.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe_os_error(exc: OSError, path: Path) -> str:
    """A sentence that tells a person why `path` could not be written."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        why = "there is not enough space on the disk"
    elif code in (errno.EACCES, errno.EPERM):
        why = "Studio has no permission to write there"
    elif code == errno.EROFS:
        why = "the disk is read-only"
    elif code in (errno.ENOTDIR, errno.ENOENT):
        why = "the folder does not exist or is not a folder"
    else:
        why = exc.strerror or str(exc)
    return f"Could not write {path}: {why}."


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _move_into_place(tmp: Path, path: Path, replace: bool) -> Path:
    if replace:
        os.replace(tmp, path)
        return path
    for n in range(1, 10_000):
        candidate = path if n == 1 else path.with_name(f"{path.stem} ({n}){path.suffix}")
        try:
            os.link(tmp, candidate)  # fails if the name exists: no race with another writer
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # A file system without hard links: claim the name first, so that another writer
            # choosing the same name at the same moment gets the next one instead.
            try:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            os.replace(tmp, candidate)
            return candidate
        tmp.unlink()
        return candidate
    raise SaveError(f"Could not find a free file name for {path}.", errno.EEXIST)
