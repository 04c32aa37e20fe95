"""The feed-forward demo: the MLP separates the spirals, the linear model cannot."""
from demos import mlp
from tests import demo_cache


def test_mlp_beats_linear_on_spirals():
    out, text = demo_cache.run("python -m demos mlp --quick")
    assert out["mlp"]["test_acc"] > 0.9
    assert out["linear"]["test_acc"] < 0.75                       # a line cannot split two spirals
    assert out["mlp"]["losses"][-1] < out["mlp"]["losses"][0] / 5
    assert "two spirals: test accuracy" in text and "●" in text and "○" in text


def test_decision_regions_read_without_colour():
    """Each class's region has its own character, so the picture reads when piped or in 16 colours."""
    import numpy as np
    import tinygrad_seq as tg
    from rich.text import Text
    lin = tg.nn.Linear(2, 2)
    lin.load_state_dict({"weight": np.array([[-1.0, 0.0], [1.0, 0.0]], np.float32),
                         "bias": np.zeros(2, np.float32)})          # class 1 right of x = 0
    x = np.array([[-0.9, 0.0], [0.9, 0.0]], np.float32)
    pic = mlp.regions(lin, x, np.array([0, 1]), "cpu", size=6)
    assert isinstance(pic, Text)
    rows = pic.plain.splitlines()
    assert len(rows) == 6 and all(len(r) == 12 for r in rows)
    assert rows[0] == mlp.REGION[0] * 6 + mlp.REGION[1] * 6        # left: class 0, right: class 1
    assert mlp.POINT[0] in rows[2] + rows[3] and mlp.POINT[1] in rows[2] + rows[3]
    assert mlp.REGION[0] != mlp.REGION[1] and mlp.REGION[0].strip() and mlp.REGION[1].strip()
