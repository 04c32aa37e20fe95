"""Gradient exercises: write the backward pass of an op, and let gradcheck grade it.

    python -m demos exercises                  # check all nine
    python -m demos exercises lstm_step        # one
    python -m demos exercises all --solutions  # the answers pass
    python -m demos exercises sigmoid --file my_sigmoid.py

Files (one exercise each; forward is given, backward raises NotImplementedError and
its docstring explains what to derive): sigmoid.py, tanh.py, softmax_ce.py,
matmul.py, conv1d.py, maxpool1d.py, lstm_step.py, gru_step.py, softplus.py (a backward that
must itself be differentiable). Answers: solutions.py. checker.py runs tg.gradcheck on each
(and tg.gradgradcheck on softplus) and says which input and element disagree.
"""
from .checker import DESCRIPTION, EXERCISES, check, check_all, implementation, main  # noqa: F401
