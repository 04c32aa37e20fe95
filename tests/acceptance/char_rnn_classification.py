"""Classifying names with a character-level RNN, in the shape of PyTorch's char-RNN tutorial:
each name is a (length, 1, n_letters) stack of one-hot letters, an nn.RNN reads it, a Linear
and LogSoftmax score the categories; trained one name at a time with NLLLoss and manual SGD,
and read out with topk. The names are synthetic: each category builds names from its own
syllables."""
import string

import numpy as np

from ._common import numpy_state, load_numpy_state

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)
SYLLABLES = {"Kato": ["ka", "to", "mi", "ra", "shi"],
             "Berg": ["ler", "son", "berg", "mann", "dorf"],
             "Ovak": ["ova", "ski", "ich", "vak", "enko"]}
all_categories = list(SYLLABLES)
n_categories = len(all_categories)


def synthetic_names(n_per_category=12, seed=0):
    """category -> list of names of 2-3 of its syllables, capitalised."""
    rng = np.random.default_rng(seed)
    return {c: ["".join(rng.choice(syl, rng.integers(2, 4))).capitalize() for _ in range(n_per_category)]
            for c, syl in SYLLABLES.items()}


def letterToIndex(letter):
    return all_letters.find(letter)


def lineToTensor(torch, line):
    """A name as a <line_length x 1 x n_letters> tensor of one-hot letter vectors."""
    tensor = torch.zeros(len(line), 1, n_letters, dtype=torch.double)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


def build(torch):
    nn = torch.nn

    class CharRNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.rnn = nn.RNN(input_size, hidden_size)
            self.h2o = nn.Linear(hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, line_tensor):
            rnn_out, hidden = self.rnn(line_tensor)
            output = self.h2o(hidden[0])
            return self.softmax(output)

    return CharRNN


def run(torch, state=None, seed=0, n_iters=60, n_hidden=16, learning_rate=0.05):
    """Train on n_iters names drawn by a NumPy generator (the same in both libraries); returns the
    initial weights, the losses, the training accuracy by topk and a few guesses."""
    nn = torch.nn
    torch.manual_seed(seed)
    names = synthetic_names()
    rnn = build(torch)(n_letters, n_hidden, n_categories).double()
    if state is not None:
        load_numpy_state(torch, rnn, state)
    init_state = numpy_state(rnn)
    criterion = nn.NLLLoss()

    def categoryFromOutput(output):
        top_n, top_i = output.topk(1)
        category_i = top_i[0].item()
        return all_categories[category_i], category_i

    def train(category_tensor, line_tensor):
        rnn.zero_grad()
        output = rnn(line_tensor)
        loss = criterion(output, category_tensor)
        loss.backward()
        for p in rnn.parameters():   # the tutorial's manual SGD, outside the graph through .data
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item()

    rng = np.random.default_rng(seed + 1)
    losses = []
    for it in range(n_iters):
        category = all_categories[rng.integers(n_categories)]
        line = names[category][rng.integers(len(names[category]))]
        category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
        output, loss = train(category_tensor, lineToTensor(torch, line))
        losses.append(loss)

    correct, total = 0, 0
    with torch.no_grad():
        for category, lines in names.items():
            for line in lines:
                guess, _ = categoryFromOutput(rnn(lineToTensor(torch, line)))
                correct += guess == category
                total += 1
        top = rnn(lineToTensor(torch, names["Berg"][0])).topk(2, 1, True)
        guesses = [all_categories[i] for i in top[1][0].tolist()]
    return {"init_state": init_state, "losses": losses, "accuracy": correct / total,
            "guesses": guesses}
