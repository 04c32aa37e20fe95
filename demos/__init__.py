"""Terminal demos: the course as programs you can watch learn.

Run from the repository root: `python -m demos NAME [options]`; `python -m demos --list`.
Each demo module has DESCRIPTION and main(argv) -> dict of what it found (used by the tests).
"""
# name -> module under demos/ (a demo is listed once its module exists)
DEMOS = {
    "charlm": "demos.charlm",
    "gradcheck": "demos.gradcheck",
    "mlp": "demos.mlp",
    "exercises": "demos.exercises",
    "sentiment": "demos.sentiment",
    "conv": "demos.conv",
    "gradients": "demos.gradients",
    "tbptt": "demos.tbptt",
    "seq2seq": "demos.seq2seq",
    "tagging": "demos.tagging",
    "activations": "demos.activations",
    "inside": "demos.inside",
    "textconv": "demos.textconv",
    "newton": "demos.newton",
}
