"""The main demo: it learns (beats uniform and bigram baselines), resumes exactly, generates."""
import numpy as np

import tinygrad_seq as tg

from demos import charlm
from demos.common import make_console
from tests import demo_cache


def run(argv):
    console = make_console(record=True)
    out = charlm.main(argv, console=console)
    return out, console.export_text()


def test_quick_run_learns_and_prints_its_table():
    out, text = demo_cache.run("python -m demos charlm --quick --checkpoint {tmp}/charlm-quick.npz")
    losses = out["train_losses"]
    assert np.mean(losses[-20:]) < np.mean(losses[:5]) - 1.5       # training loss falls
    assert out["val_loss"] < out["uniform"] - 1.5                   # held-out: far better than chance
    assert out["val_loss"] < out["bigram"]                          # and better than the bigram baseline
    for needle in ("held-out loss", "bigram", "LSTM (ours)", "final sample", "train loss"):
        assert needle in text
    assert out["sample"].startswith("The ")


def test_gru_and_rnn_cells_train_too(tmp_path):
    for cell in ("gru", "rnn"):
        out, _ = run(["--quick", "--cell", cell, "--steps", "120", "--checkpoint", str(tmp_path / f"{cell}.npz")])
        assert out["val_loss"] < out["uniform"] - 1.0


def test_lstm_variants_from_the_slides_train(tmp_path):
    for flag in ("--peephole", "--coupled"):
        out, text = run(["--quick", flag, "--steps", "120", "--checkpoint", str(tmp_path / f"{flag}.npz")])
        assert out["val_loss"] < out["uniform"] - 1.0
        assert flag[2:] + "=True" in text  # the model's repr names the variant


def test_resume_continues_exactly_and_generate_loads_the_checkpoint(tmp_path):
    full, _ = run(["--quick", "--steps", "40", "--checkpoint", str(tmp_path / "full.npz")])
    part = str(tmp_path / "part.npz")
    run(["--quick", "--steps", "20", "--checkpoint", part])
    resumed, text = run(["--quick", "--steps", "40", "--checkpoint", part, "--resume"])
    assert "resumed" in text
    assert resumed["steps"] == 40
    np.testing.assert_array_equal(resumed["train_losses"], full["train_losses"])  # bit for bit
    a, text = run(["generate", "--checkpoint", part, "--length", "50", "--prime", "def ", "--seed", "3"])
    b, _ = run(["generate", "--checkpoint", part, "--length", "50", "--prime", "def ", "--seed", "3"])
    assert a["sample"] == b["sample"] and a["sample"].startswith("def ") and len(a["sample"]) == 54
    assert "after 40 steps" in text


def test_user_text_file(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("abcabcabd " * 500)
    out, _ = run(["--quick", "--text", str(f), "--steps", "80", "--checkpoint", str(tmp_path / "u.npz")])
    assert out["val_loss"] < 0.8  # a nearly deterministic text is learned


def test_early_stopping_reports_and_samples_the_best_weights(tmp_path, monkeypatch):
    """When held-out loss rises again (memorizing), the run reports the weights with the best
    held-out loss, says so, and `generate` samples from them; the checkpoint keeps both."""
    scripted = iter([2.0, 1.5, 1.8, 1.9, 1.55])   # evals at steps 10, 20, 30; final; best re-evaluated
    monkeypatch.setattr(charlm, "evaluate", lambda *a, **k: next(scripted))
    ck = str(tmp_path / "c.npz")
    out, text = run(["--quick", "--steps", "30", "--eval-every", "10", "--checkpoint", ck])
    assert out["best_step"] == 20 and out["steps"] == 30
    assert out["val_loss"] == 1.55 and out["last_val_loss"] == 1.9
    assert "lowest at step 20; at step 30 it was 1.900" in text and "LSTM (ours), step 20" in text
    saved = tg.load(ck)
    assert int(saved["step"]) == 30 and int(saved["best"]["step"]) == 20
    assert any(not np.array_equal(saved["best"]["model"][k], saved["model"][k]) for k in saved["model"])
    _, text = run(["generate", "--checkpoint", ck, "--length", "20"])
    assert "after 30 steps (best held-out weights: step 20)" in text


def test_a_shorter_run_never_replaces_a_longer_runs_checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    run(["--quick", "--steps", "30", "--checkpoint", str(path)])
    out, text = run(["--quick", "--steps", "10", "--checkpoint", str(path)])
    assert int(tg.load(str(path))["step"]) == 30                    # the longer run is kept
    alt = tmp_path / "c-new.npz"
    assert out["checkpoint"] == str(alt) and int(tg.load(str(alt))["step"]) == 10
    assert "holds a run of 30 steps" in text and "--force" in text and str(alt) in text
    run(["--quick", "--steps", "10", "--checkpoint", str(path), "--force"])
    assert int(tg.load(str(path))["step"]) == 10                    # --force: asked for
    out, _ = run(["--quick", "--steps", "20", "--checkpoint", str(path)])
    assert out["checkpoint"] == str(path) and int(tg.load(str(path))["step"]) == 20   # longer: replaces


def test_quick_runs_save_apart_from_the_default_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out, _ = run(["--quick", "--steps", "5"])
    assert out["checkpoint"] == charlm.QUICK_CKPT != charlm.DEFAULT_CKPT
    assert (tmp_path / charlm.QUICK_CKPT).exists() and not (tmp_path / charlm.DEFAULT_CKPT).exists()
    a, _ = run(["generate", "--quick", "--length", "10"])             # generate --quick samples it
    assert len(a["sample"]) == len("The ") + 10


def test_bigram_baseline_counts_next_token_windows(monkeypatch):
    """The baseline is an n-gram model over tg.data.next_token_windows' ([x_t], x_t+1) pairs."""
    calls = []
    real = charlm.next_token_windows

    def spy(ids, window, *a):
        calls.append(window)
        return real(ids, window, *a)
    monkeypatch.setattr(charlm, "next_token_windows", spy)
    rng = np.random.default_rng(0)
    train, val = rng.integers(0, 5, 400), rng.integers(0, 5, 100)
    got = charlm.bigram_baseline(train, val, 5, alpha=0.1)
    counts = np.full((5, 5), 0.1)
    for a, b in zip(train[:-1], train[1:]):
        counts[a, b] += 1
    p = counts / counts.sum(1, keepdims=True)
    assert calls == [1, 1]
    assert abs(got - float(np.mean([-np.log(p[a, b]) for a, b in zip(val[:-1], val[1:])]))) < 1e-12
