"""File-system failures as one line naming the path, and which of them the user can fix.

An ``OSError`` reaches a user from many places (Python's ``open``, pyarrow's writer, ``os.replace``)
and not every one carries the path: pyarrow's "Error writing bytes to file ... [errno 28]" names
neither the file nor the folder. :func:`with_path` attaches the path an operation was about, and
:func:`describe` turns any of them into ``"cannot write <path>: No space left on device"``.
:func:`user_fixable` says whether the cause is the user's to fix (a full disk, a read-only file
system, a file where a folder must be, missing permission): the CLI exits with code 2 for those,
as for any other bad input, and with 1 for the rest.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

# Causes a user fixes by freeing space, choosing another --out, or fixing the folder.
USER_FIXABLE_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EACCES,
        errno.EPERM,
        errno.EEXIST,
        errno.ENAMETOOLONG,
        errno.ENOENT,
        errno.ENOTEMPTY,
        errno.EXDEV,
    }
)
_ERRNO_IN_TEXT = re.compile(r"\[errno (\d+)\]", re.IGNORECASE)


def error_number(error: OSError) -> int | None:
    """The errno of ``error``, also where only its message has it (pyarrow's ``[errno 28]``)."""
    if error.errno is not None:
        return int(error.errno)
    found = _ERRNO_IN_TEXT.search(str(error))
    return int(found.group(1)) if found else None


def with_path(error: OSError, path: str | Path, *, replace: bool = False) -> OSError:
    """``error`` naming ``path`` when it names no file (or ``replace``: whatever it names),
    returned for ``raise``; its errno and reason are kept."""
    if error.filename is not None and not replace:
        return error
    number = error_number(error)
    reason = error.strerror or (
        os.strerror(number) if number is not None else " ".join(str(error).split())
    )
    rebuilt = OSError(number, reason, str(path))
    rebuilt.__cause__ = error
    return rebuilt


def describe(error: OSError, *, verb: str = "cannot use") -> str:
    """One line: ``"<verb> <path>: <reason>"`` (the second path of a rename too, where known)."""
    number = error_number(error)
    reason = error.strerror or (os.strerror(number) if number is not None else "")
    reason = reason or " ".join(str(error).split()) or type(error).__name__
    if error.filename is None:
        return reason
    where = str(error.filename)
    if error.filename2 is not None:
        where += f" -> {error.filename2}"
    return f"{verb} {where}: {reason}"


def user_fixable(error: OSError) -> bool:
    """Whether the cause is one the user can fix (disk full, read-only, not a folder, ...)."""
    return error_number(error) in USER_FIXABLE_ERRNOS


def is_disk_full(error: OSError) -> bool:
    return error_number(error) in (errno.ENOSPC, errno.EDQUOT)


def free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding ``path`` (its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def megabytes(n_bytes: float) -> str:
    """``"12.3 MB"``."""
    return f"{n_bytes / 1e6:.1f} MB"


__all__ = [
    "USER_FIXABLE_ERRNOS",
    "describe",
    "error_number",
    "free_bytes",
    "is_disk_full",
    "megabytes",
    "user_fixable",
    "with_path",
]
