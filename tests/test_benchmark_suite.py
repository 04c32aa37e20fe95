"""`python -m benchmarks --quick` runs every workload and writes a well-formed JSON file.
(Timings are never asserted: only the structure of what the suite reports.)"""
import json

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
        assert o["target"] > 0 and o["target_of"] == "ours/torch"
        if torch is not None:
            theirs = [r for r in rows if r["suite_key"] == key and r["role"] == "torch"]
            assert len(theirs) == 1 and theirs[0]["ratio"] == 1.0, key
            assert abs(o["ratio"] - o["median_ms"] / theirs[0]["median_ms"]) < 1e-9
            assert abs(o["best_ratio"] - o["min_ms"] / theirs[0]["min_ms"]) < 1e-9
            assert o["target_met"] is (o["ratio"] <= o["target"])
    # the hand-written NumPy char-LSTM: a row with ours/numpy against the 1.25x target
    numpy_rows = [r for r in rows if r["role"] == "numpy"]
    assert [r["suite_key"] for r in numpy_rows] == ["char-LSTM"]
    n = numpy_rows[0]
    ours_lstm = next(r for r in rows if r["suite_key"] == "char-LSTM" and r["role"] == "ours")
    assert n["target"] == 1.25 and n["target_of"] == "ours/numpy"
    assert abs(n["target_ratio"] - ours_lstm["median_ms"] / n["median_ms"]) < 1e-9
    assert n["target_met"] is (n["target_ratio"] <= 1.25)


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
