"""The main demo: it learns (beats uniform and bigram baselines), resumes exactly, generates."""
import numpy as np

from demos import charlm
from demos.common import make_console


def run(argv):
    console = make_console(record=True)
    out = charlm.main(argv, console=console)
    return out, console.export_text()


def test_quick_run_learns_and_prints_its_table(tmp_path):
    out, text = run(["--quick", "--checkpoint", str(tmp_path / "c.npz")])
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
