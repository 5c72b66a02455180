"""The rule that CI runs every check holds for a module skipped while it is collected."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ganlab.core.paths import PROJECT_ROOT


def test_a_module_level_importorskip_fails_the_session_under_ci(tmp_path: Path) -> None:
    shutil.copy(PROJECT_ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_skipped.py").write_text(
        "import pytest\npytest.importorskip('no_such_module_anywhere')\n"
        "def test_never_runs():\n    pass\n"
    )
    (tmp_path / "test_runs.py").write_text("def test_runs():\n    pass\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    args += ["-c", os.devnull, "--rootdir", str(tmp_path)]
    under_ci = subprocess.run(args, env=env | {"CI": "true"}, capture_output=True, text=True)
    assert under_ci.returncode == 1, under_ci.stdout + under_ci.stderr
    assert "check(s) skipped, which CI must run" in under_ci.stderr
    locally = subprocess.run(args, env=env | {"CI": ""}, capture_output=True, text=True)
    assert locally.returncode == 0, locally.stdout + locally.stderr
