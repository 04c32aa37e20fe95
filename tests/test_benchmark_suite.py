"""`python -m benchmarks --quick` runs every workload and writes a well-formed JSON file.
(Timings are never asserted: only the structure of what the suite reports.)"""
import json
import os
import pathlib

from tests.conftest import torch


def test_quick_suite_writes_every_workload(tmp_path, capsys):
    from benchmarks.__main__ import KEYS, main
    path = tmp_path / "results.json"
    main(["--quick", "--one-process", "--json", str(path)])
    assert "benchmark suite" in capsys.readouterr().out           # the rich table was printed
    data = json.loads(path.read_text())
    assert data["device"] == "cpu" and data["quick"] is True
    assert {"cpu", "cores", "numpy"} <= set(data["machine"])
    rows = data["rows"]
    assert {r["suite_key"] for r in rows} == set(KEYS)
    for r in rows:
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["max_ms"], r
        assert r["device"] == "cpu" and r["impl"] and r["workload"]
        assert r["peak_host_mb"] is not None and r["peak_host_mb"] >= 0, r
        assert r["peak_gpu_mb"] is None                            # cpu run: no GPU memory
    for key in KEYS:
        ours = [r for r in rows if r["suite_key"] == key and r["role"] == "ours"]
        assert len(ours) == 1, key
        o = ours[0]
        assert o["target_of"] == {"graph-length": "ours 10,000 / 100 ops",
                                  "lstm-composed": "composed / fused"}.get(key, "ours/torch")
        assert o["verdict"] in ("too few steps", "no torch")     # --quick times 1-2 steps: no verdict
        assert o["target_met"] is None
        if torch is None:   # judged beside torch: no verdict; judged on its own ratio: too few steps
            assert o["ratio"] is None
            assert o["verdict"] == ("no torch" if o["target_of"] == "ours/torch" else "too few steps")
        else:
            assert o["target"] > 0
            theirs = [r for r in rows if r["suite_key"] == key and r["role"] == "torch"]
            assert len(theirs) == 1 and theirs[0]["ratio"] == 1.0, key
            assert abs(o["ratio"] - o["median_ms"] / theirs[0]["median_ms"]) < 1e-9
            assert abs(o["best_ratio"] - o["min_ms"] / theirs[0]["min_ms"]) < 1e-9
    # graph-length and lstm-composed are judged on ours over ours (growth; composed over fused)
    chain = {r["impl"]: r for r in rows if r["suite_key"] == "graph-length"}
    assert set(chain) == {f"{impl} {n:,} ops" for impl in ("ours", "torch") for n in (100, 1000, 10000)} \
        if torch is not None else {f"ours {n:,} ops" for n in (100, 1000, 10000)}
    o = chain["ours 10,000 ops"]
    assert o["target"] == 1.3 and abs(o["target_ratio"] - o["median_ms"] / chain["ours 100 ops"]["median_ms"]) < 1e-9
    lstm = {r["impl"]: r for r in rows if r["suite_key"] == "lstm-composed"}
    o = lstm["ours composed"]
    assert o["target"] == 3.0 and abs(o["target_ratio"] - o["median_ms"] / lstm["ours fused"]["median_ms"]) < 1e-9
    # the hand-written NumPy char-LSTM: a row with ours/numpy against the 1.25x target
    numpy_rows = [r for r in rows if r["role"] == "numpy"]
    assert [r["suite_key"] for r in numpy_rows] == ["char-LSTM"]
    n = numpy_rows[0]
    ours_lstm = next(r for r in rows if r["suite_key"] == "char-LSTM" and r["role"] == "ours")
    assert n["target"] == 1.25 and n["target_of"] == "ours/numpy"
    assert abs(n["target_ratio"] - ours_lstm["median_ms"] / n["median_ms"]) < 1e-9
    assert n["target_met"] is None and n["verdict"] == "too few steps"
    # the LSTM workloads beside torch also time their matrix products alone (the BLAS floor)
    floors = [r for r in rows if r["impl"] == "matmuls only"]
    assert sorted(r["suite_key"] for r in floors) == (["char-LSTM", "deep-LSTM"] if torch is not None else [])
    for f in floors:
        theirs = next(r for r in rows if r["suite_key"] == f["suite_key"] and r["role"] == "torch")
        assert f["role"] == "extra" and f["target"] is None
        assert abs(f["ratio"] - f["median_ms"] / theirs["median_ms"]) < 1e-9


def _rows(timed, torch_ms=2.0):
    group = [dict(workload="w", impl="torch", role="torch", median_ms=torch_ms, min_ms=1.0, max_ms=3.0),
             dict(workload="w", impl="ours", role="ours", target=1.5, median_ms=1.0, min_ms=0.5, max_ms=2.0)]
    return group if torch_ms else group[1:]


def test_verdicts_need_enough_timed_steps(monkeypatch):
    """A ratio of one or two timed steps is noise: no met / missed from it."""
    from benchmarks import __main__ as suite
    quick = suite.finalize({"lenet": _rows(1)}, "cpu", quick=True)
    assert quick[1]["timed_steps"] < suite.MIN_TIMED_STEPS
    assert quick[1]["verdict"] == "too few steps" and quick[1]["target_met"] is None
    full = suite.finalize({"lenet": _rows(20)}, "cpu", quick=False)
    assert full[1]["timed_steps"] >= suite.MIN_TIMED_STEPS
    assert full[1]["verdict"] == "met" and full[1]["target_met"] is True
    slow = suite.finalize({"lenet": _rows(20, torch_ms=0.5)}, "cpu", quick=False)
    assert slow[1]["verdict"] == "MISSED" and slow[1]["target_met"] is False
    best = _rows(20)
    best[1]["min_ms"] = 1.6                       # median within the target, best step 1.6x torch's
    best = suite.finalize({"lenet": best}, "cpu", quick=False)[1]
    assert best["verdict"] == "MISSED" and best["missed"] == ["best"]
    heavy = _rows(20)
    heavy[0]["peak_host_mb"], heavy[1]["peak_host_mb"] = 10.0, 12.5     # 1.25x torch's memory
    heavy = suite.finalize({"lenet": heavy}, "cpu", quick=False)[1]
    assert heavy["missed"] == ["memory"] and abs(heavy["memory_ratio"] - 1.25) < 1e-12
    small = _rows(20)
    small[0]["peak_host_mb"], small[1]["peak_host_mb"] = 1.0, 3.0       # under the floor: not judged
    small = suite.finalize({"lenet": small}, "cpu", quick=False)[1]
    assert small["verdict"] == "met" and small["memory_ratio"] is None
    alone = suite.finalize({"lenet": _rows(20, torch_ms=None)}, "cpu", quick=False)
    assert alone[0]["verdict"] == "no torch" and alone[0]["ratio"] is None


def test_table_fits_100_columns_and_says_when_torch_is_missing(tmp_path):
    """Rendered on a 200-column console the table still needs at most 100; without torch one line
    says so."""
    import io
    import subprocess
    import sys
    from rich.console import Console
    from benchmarks import __main__ as suite
    rows = suite.finalize({"char-LSTM": _rows(2) + [dict(workload="w", impl="numpy", role="numpy", target=1.25,
                                                         median_ms=1.0, min_ms=0.5, max_ms=2.0)],
                           "bptt-truncated": _rows(2)}, "cuda", quick=True)
    for r in rows:
        r["peak_host_mb"], r["peak_gpu_mb"] = 1234.5, 2345.6
        r["median_ms"], r["min_ms"] = 99.987, 0.78034
    con = Console(width=200, file=io.StringIO(), record=True)
    suite.print_table("benchmark suite (cuda, quick): ms per train step (overhead: us per op), 123 s",
                      rows, "cuda", console=con)
    text = con.export_text()
    assert "too few steps" in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100, text
    # torch hidden: the suite says so in one line
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "torch.py").write_text("raise ImportError('torch hidden by the test')\n")
    root = pathlib.Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=f"{hide}{os.pathsep}{root}", COLUMNS="100")
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "overhead",
                           "--json", str(tmp_path / "r.json")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("PyTorch is not installed") == 1, done.stdout
    assert "no torch" in done.stdout


def test_suite_rejects_unknown_workloads(tmp_path, capsys):
    import pytest
    from benchmarks.__main__ import main
    with pytest.raises(SystemExit):
        main(["--quick", "--only", "nope", "--json", str(tmp_path / "x.json")])
    assert "unknown workload" in capsys.readouterr().err


def test_suite_runs_each_workload_in_its_own_process(tmp_path, capsys):
    """The default: one fresh process per workload, rows gathered into one table and file."""
    from benchmarks.__main__ import main
    path = tmp_path / "results.json"
    main(["--quick", "--only", "overhead,lenet", "--json", str(path)])
    out = capsys.readouterr().out
    assert "running overhead in its own process" in out and "benchmark suite" in out
    rows = json.loads(path.read_text())["rows"]
    assert [r["suite_key"] for r in rows if r["role"] == "ours"] == ["overhead", "lenet"]


def test_single_workload_tables_fit_100_columns(capsys):
    """`python -m benchmarks.rnn` and the others print through common.report: 100 columns at most."""
    from benchmarks.common import report
    rows = [dict(workload="char-LSTM train step (E64 H256 B32 T64) with a long label", impl="ours nn.LSTM (fused)",
                 median_ms=41.3, min_ms=40.1, max_ms=45.6, ratio=1.64,
                 note="target <= 2.5x: met; first-step loss 4.1744 (ours 4.1744); min/min 1.50x (less sensitive)")]
    report("a benchmark", rows)
    out = capsys.readouterr().out
    assert "ours nn.LSTM" in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 100, out


def test_graph_length_tables_fit_100_columns():
    """benchmarks.graph_length's own tables, with the widest values they can show."""
    import io
    from rich.console import Console
    from benchmarks import graph_length
    chain = [dict(ops=n, impl=i, runs=30, median_us=123.45, min_us=111.11, max_us=130.0, graph_mb=5130.0,
                  growth=12.5, ratio=10.08) for n in graph_length.LENGTHS for i in ("ours", "torch")]
    lstm = [dict(impl=i, steps=10_000, runs=3, median_ms=13586.6, min_ms=13566.6, max_ms=13655.1)
            for i in ("ours fused", "ours composed", "torch nn.LSTM")]
    lstm[1]["ratio_to_fused"] = 1.0
    con = Console(width=200, file=io.StringIO(), record=True)
    graph_length.print_tables({"chain": chain, "lstm": lstm}, con)
    text = con.export_text()
    assert "1,000,000" in text and "MISSED" in text and "met" in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100, text


def test_several_runs_give_ranges_and_met_counts():
    """--runs N: one row per workload and impl with the range of each figure over the runs and
    the number of runs whose verdict was met; the table fits 100 columns."""
    import io
    from rich.console import Console
    from benchmarks import __main__ as suite
    runs = []
    for torch_ms, ours_min in ((2.0, 0.5), (2.5, 0.8), (0.6, 0.6)):     # the last run misses (median)
        rows = _rows(20, torch_ms)
        rows[1]["min_ms"] = ours_min
        runs.append(suite.finalize({"char-LSTM": rows}, "cpu", quick=False))
    summary = {s["impl"]: s for s in suite.summarize_runs(runs)}
    ours = summary["ours"]
    assert ours["runs"] == 3 and ours["judged"] == 3 and ours["met"] == 2 and ours["missed"] == ["median"]
    assert ours["ratio"] == (1.0 / 2.5, 1.0 / 0.6) and ours["min_ms"] == (0.5, 0.8)
    assert summary["torch"]["median_ms"] == (0.6, 2.5) and summary["torch"]["judged"] == 0
    con = Console(width=200, file=io.StringIO(), record=True)
    suite.print_summary("benchmark suite (cpu): 3 runs", list(summary.values()), console=con)
    text = con.export_text()
    assert "2/3 med" in text and "0.40-1.67" in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100, text


def test_rnn_profile_names_the_fused_lstm(capsys):
    """`python -m benchmarks.rnn --profile`: the cProfile of our char-LSTM step, where the README's
    profile comes from."""
    from benchmarks import rnn
    assert rnn.main(["--profile", "--quick"]) == []
    out = capsys.readouterr().out
    assert "rnn_fused.py" in out and "tottime" in out
