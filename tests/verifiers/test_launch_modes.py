"""Workers never run user code: the same result, once, with no traceback, however the user's
program is started (a script without a main guard, a script on stdin, ``python -c``, a
notebook kernel). Each program calls ``check`` on a pair only sympy decides, so the answer
proves a worker process ran and came back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# No `if __name__ == "__main__":` guard, on purpose: a worker that re-imported this module (as
# multiprocessing's spawn and forkserver children do) would print the line a second time.
PROGRAM = """\
from spice_env.verifiers import check

result = check("e", "so \\\\boxed{e^{1000} \\\\cdot e^{-999}}")
print("RESULT", result.correct, result.reason, flush=True)
"""
EXPECTED = "RESULT True symbolic"


def _assert_once_and_clean(stdout: str, stderr: str) -> None:
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT")]
    assert lines == [EXPECTED], (stdout, stderr)
    assert "Traceback" not in stderr and "Error" not in stderr, stderr


def _run(arguments: list[str], stdin: str | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


def test_script_without_main_guard(tmp_path: Path) -> None:
    script = tmp_path / "no_guard.py"
    script.write_text(PROGRAM, encoding="utf-8")
    done = _run([str(script)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _assert_once_and_clean(done.stdout, done.stderr)


def test_script_on_stdin(tmp_path: Path) -> None:
    done = _run(["-"], stdin=PROGRAM, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _assert_once_and_clean(done.stdout, done.stderr)


def test_python_dash_c(tmp_path: Path) -> None:
    done = _run(["-c", PROGRAM], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _assert_once_and_clean(done.stdout, done.stderr)


def test_notebook_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # A kernel spec for this very interpreter, found first through JUPYTER_PATH.
    installed = _run(
        ["-m", "ipykernel", "install", "--prefix", str(tmp_path), "--name", "spice-test"]
    )
    assert installed.returncode == 0, installed.stderr
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(PROGRAM))
    client = nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="spice-test", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = notebook.cells[0].outputs
    stdout = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert not [o for o in outputs if o.get("output_type") == "error"], outputs
    _assert_once_and_clean(stdout, stderr)
