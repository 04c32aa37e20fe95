"""Time-sequence prediction, in the shape of PyTorch's examples/time_sequence_prediction:
two stacked LSTMCells and a Linear read noisy-phase sine waves step by step in float64,
trained with LBFGS and a closure, then asked to continue each wave `future` steps alone."""
import numpy as np

from ._common import numpy_state, load_numpy_state


def sine_waves(n=8, length=40, period=6.0, seed=0):
    """n sine waves, each shifted by a random integer phase (generate_sine_wave.py's recipe)."""
    rng = np.random.default_rng(seed)
    x = np.arange(length)[None, :] + rng.integers(-4 * int(period), 4 * int(period), n)[:, None]
    return np.sin(x / period).astype("float64")


def build(torch, hidden):
    nn = torch.nn

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, hidden)
            self.lstm2 = nn.LSTMCell(hidden, hidden)
            self.linear = nn.Linear(hidden, 1)

        def forward(self, input, future=0):
            outputs = []
            h_t = torch.zeros(input.size(0), hidden, dtype=torch.double)
            c_t = torch.zeros(input.size(0), hidden, dtype=torch.double)
            h_t2 = torch.zeros(input.size(0), hidden, dtype=torch.double)
            c_t2 = torch.zeros(input.size(0), hidden, dtype=torch.double)
            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for i in range(future):   # if we should predict the future
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            return torch.cat(outputs, dim=1)

    return Sequence


def run(torch, state=None, seed=0, steps=2, hidden=10, future=8, max_iter=8):
    """LBFGS steps; returns the initial weights, the closure losses, the test losses after each
    step and the final predictions (test inputs followed by `future` free-running steps)."""
    nn, optim = torch.nn, torch.optim
    torch.manual_seed(seed)
    data = sine_waves()
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])
    seq = build(torch, hidden)()
    seq.double()
    if state is not None:
        load_numpy_state(torch, seq, state)
    init_state = numpy_state(seq)
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8, max_iter=max_iter)
    closure_losses, test_losses = [], []
    for i in range(steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            closure_losses.append(loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)
        with torch.no_grad():   # begin to predict, no need to track gradient here
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            test_losses.append(loss.item())
            y = pred.detach().numpy()
    return {"init_state": init_state, "losses": closure_losses, "test_losses": test_losses,
            "prediction": y}
