"""File-system failures: one line naming the path, and which causes the user can fix."""

from __future__ import annotations

import errno
from pathlib import Path

from mibench.results import fserrors


def test_pyarrow_style_error_without_a_path_gets_one() -> None:
    bare = OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")
    named = fserrors.with_path(bare, "/data/out/runs/a.parquet")
    assert fserrors.error_number(named) == errno.ENOSPC
    line = fserrors.describe(named, verb="cannot write")
    assert line == "cannot write /data/out/runs/a.parquet: No space left on device"
    assert fserrors.is_disk_full(named) and fserrors.user_fixable(named)


def test_an_error_that_names_its_file_keeps_it_unless_replaced() -> None:
    error = PermissionError(errno.EACCES, "Permission denied", "/tmp/.x.partial")
    assert fserrors.with_path(error, "/tmp/x") is error
    replaced = fserrors.with_path(error, "/tmp/x", replace=True)
    assert fserrors.describe(replaced) == "cannot use /tmp/x: Permission denied"


def test_rename_errors_name_both_paths() -> None:
    error = OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b")
    assert fserrors.describe(error) == "cannot use /a -> /b: Invalid cross-device link"


def test_only_user_fixable_causes_are_marked() -> None:
    for number in (errno.ENOSPC, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EACCES):
        assert fserrors.user_fixable(OSError(number, "x"))
    assert not fserrors.user_fixable(OSError(errno.EIO, "Input/output error"))
    assert not fserrors.user_fixable(OSError("no errno at all"))


def test_free_bytes_of_a_path_still_to_be_made(tmp_path: Path) -> None:
    free = fserrors.free_bytes(tmp_path / "not" / "yet")
    assert free is not None and free > 0
    assert fserrors.megabytes(12_345_678) == "12.3 MB"
