"""`python -m demos` as a user meets it, in a fresh process: a user error is one line on stderr
and exit status 2 (no traceback), the exercise checker's exit status says whether everything
passed, and the demos run from any directory."""
import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def demos(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               COLUMNS="100", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "demos", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


USER_ERRORS = [
    (["charlm", "generate", "--checkpoint", "{tmp}/none.npz"], "no checkpoint at"),
    (["mlp", "--quick", "--device", "cuda"], "cuda"),
    (["charlm", "--quick", "--resume", "--checkpoint", "{tmp}/none.npz"], "--resume: no checkpoint"),
    (["charlm", "--quick", "--cell", "gru", "--peephole"], "--peephole and --coupled are LSTM variants"),
    (["conv", "--quick", "--mnist", "{tmp}/nowhere"], "is not a directory"),
    (["conv", "--quick", "--kernel", "40", "--padding", "0"], "shrinks to nothing"),
    (["sentiment", "--quick", "--csv", "{tmp}/missing.csv"], "missing.csv"),
    (["seq2seq", "--quick", "--teacher-forcing", "3"], "--teacher-forcing"),
    (["exercises", "sigmoid", "--file", "{tmp}/mine.py"], "no such file"),
    (["gradcheck", "--op", "nope"], "unknown op"),
    (["tagging", "--epochs", "x"], "invalid int value"),
    (["nosuch"], "unknown demo"),
]


@pytest.mark.parametrize("argv,needle", USER_ERRORS, ids=[" ".join(a[:2]) for a, _ in USER_ERRORS])
def test_user_errors_are_one_line_and_exit_2(argv, needle, tmp_path):
    import tinygrad_seq as tg
    if "cuda" in argv and tg.cuda_available():
        pytest.skip("this machine has a GPU: --device cuda is not an error here")
    done = demos(*[a.format(tmp=tmp_path) for a in argv])
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr
    assert lines[0].startswith("python -m demos")


def test_exercise_checker_exit_status(tmp_path):
    """0 only when every checked exercise passes: a failing or not-attempted one is 1."""
    assert demos("exercises", "--solutions").returncode == 0
    stubs = demos("exercises")                                    # the shipped files: nothing written
    assert stubs.returncode == 1 and "0/9 pass, 9 not attempted" in stubs.stdout
    wrong = tmp_path / "my_sigmoid.py"
    src = (ROOT / "demos" / "exercises" / "sigmoid.py").read_text()
    wrong.write_text(src.replace('raise NotImplementedError("write Sigmoid.backward")',
                                 "y, = ctx.saved_tensors\n        return grad * y"))   # forgot (1 - y)
    done = demos("exercises", "--file", str(wrong))
    assert done.returncode == 1 and "FAIL" in done.stdout and "hint" in done.stdout
    right = tmp_path / "sigmoid_ok.py"
    right.write_text(src.replace('raise NotImplementedError("write Sigmoid.backward")',
                                 "y, = ctx.saved_tensors\n        return grad * y * (1 - y)"))
    done = demos("exercises", "--file", str(right), cwd=tmp_path)  # from anywhere
    assert done.returncode == 0 and "1/1 pass" in done.stdout, done.stdout + done.stderr


def test_demos_and_benchmarks_run_from_any_directory(tmp_path):
    assert "include" in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {"tinygrad_seq*", "demos*", "benchmarks*"} <= set(include)   # pip install -e . exposes them
    listing = demos("--list", cwd=tmp_path)
    assert listing.returncode == 0 and "charlm" in listing.stdout, listing.stderr
    ok = demos("gradcheck", "--op", "tanh", cwd=tmp_path)
    assert ok.returncode == 0 and "1/1 ops pass" in ok.stdout, ok.stderr
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    bench = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert bench.returncode == 0 and "--quick" in bench.stdout
