"""The feed-forward demo: the MLP separates the spirals, the linear model cannot."""
from demos import mlp
from demos.common import make_console


def test_mlp_beats_linear_on_spirals():
    console = make_console(record=True)
    out = mlp.main(["--quick"], console=console)
    assert out["mlp"]["test_acc"] > 0.9
    assert out["linear"]["test_acc"] < 0.75                       # a line cannot split two spirals
    assert out["mlp"]["losses"][-1] < out["mlp"]["losses"][0] / 5
    text = console.export_text()
    assert "two spirals: test accuracy" in text and "●" in text and "○" in text
