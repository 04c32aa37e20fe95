"""One in-process run per demo command for the whole test session: the demo tests and the README
capture check (tests/test_readme_captures.py) read the same run, so each --quick run costs once."""
import atexit
import functools
import importlib
import shlex
import shutil
import tempfile

from demos import DEMOS, common


# where runs write files ({tmp} in a command): charlm's checkpoint, never the repository's
TMP = tempfile.mkdtemp(prefix="demo_runs_")
atexit.register(shutil.rmtree, TMP, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def run(command):
    """'python -m demos NAME ARGS...' -> (what main returned, what it printed at 100 columns)."""
    words = shlex.split(command.replace("{tmp}", TMP))
    assert words[:3] == ["python", "-m", "demos"] and words[3] in DEMOS, command
    module = importlib.import_module(DEMOS[words[3]])
    console = common.make_console(record=True)
    out = module.main(words[4:], console=console)
    return out, console.export_text()
