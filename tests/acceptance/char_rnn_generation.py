"""Generating names with a character-level RNN, in the shape of PyTorch's char-RNN generation
tutorial: the category, the current letter and the hidden state are concatenated, i2h/i2o/o2o
Linears with Dropout and LogSoftmax predict the next letter; the loss is summed over the name
into a zero tensor with +=, and names are sampled greedily with topk or randomly with
multinomial. The names are the synthetic ones of char_rnn_classification."""
import numpy as np

from ._common import numpy_state, load_numpy_state
from .char_rnn_classification import all_letters, all_categories, synthetic_names

n_letters = len(all_letters) + 1   # plus EOS marker
n_categories = len(all_categories)
max_length = 12


def build(torch, dropout):
    nn = torch.nn

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
            self.o2o = nn.Linear(hidden_size + output_size, output_size)
            self.dropout = nn.Dropout(dropout)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, category, input, hidden):
            input_combined = torch.cat((category, input, hidden), 1)
            hidden = self.i2h(input_combined)
            output = self.i2o(input_combined)
            output_combined = torch.cat((hidden, output), 1)
            output = self.o2o(output_combined)
            output = self.dropout(output)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, self.hidden_size, dtype=torch.double)

    return RNN


def run(torch, state=None, seed=0, n_iters=40, n_hidden=16, learning_rate=0.05, dropout=0.0):
    """Returns the initial weights, the per-name losses, greedy samples (topk) per category and
    random samples (multinomial)."""
    nn = torch.nn
    torch.manual_seed(seed)
    names = synthetic_names()
    rnn = build(torch, dropout)(n_letters, n_hidden, n_letters).double()
    if state is not None:
        load_numpy_state(torch, rnn, state)
    init_state = numpy_state(rnn)
    criterion = nn.NLLLoss()

    def categoryTensor(category):
        tensor = torch.zeros(1, n_categories, dtype=torch.double)
        tensor[0][all_categories.index(category)] = 1
        return tensor

    def inputTensor(line):
        """One-hot matrix of first to last letters (not including EOS) for input."""
        tensor = torch.zeros(len(line), 1, n_letters, dtype=torch.double)
        for li in range(len(line)):
            tensor[li][0][all_letters.find(line[li])] = 1
        return tensor

    def targetTensor(line):
        """LongTensor of second letter to end (EOS) for target."""
        letter_indexes = [all_letters.find(line[li]) for li in range(1, len(line))]
        letter_indexes.append(n_letters - 1)   # EOS
        return torch.LongTensor(letter_indexes)

    def train(category_tensor, input_line_tensor, target_line_tensor):
        target_line_tensor.unsqueeze_(-1)
        hidden = rnn.initHidden()
        rnn.zero_grad()
        loss = torch.zeros(1, dtype=torch.double)
        for i in range(input_line_tensor.size(0)):
            output, hidden = rnn(category_tensor, input_line_tensor[i], hidden)
            loss += criterion(output, target_line_tensor[i])
        loss.backward()
        for p in rnn.parameters():   # the tutorial's manual SGD through .data
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item() / input_line_tensor.size(0)

    rng = np.random.default_rng(seed + 1)
    losses = []
    rnn.train()
    for it in range(n_iters):
        category = all_categories[rng.integers(n_categories)]
        line = names[category][rng.integers(len(names[category]))]
        _, loss = train(categoryTensor(category), inputTensor(line), targetTensor(line))
        losses.append(loss)

    def sample(category, start_letter="A", greedy=True):
        with torch.no_grad():   # no need to track history in sampling
            category_tensor = categoryTensor(category)
            input = inputTensor(start_letter)
            hidden = rnn.initHidden()
            output_name = start_letter
            for i in range(max_length):
                output, hidden = rnn(category_tensor, input[0], hidden)
                if greedy:
                    topv, topi = output.topk(1)
                    topi = topi[0][0]
                else:
                    topi = torch.multinomial(output.exp(), 1)[0][0]
                if topi == n_letters - 1:
                    break
                letter = all_letters[topi]
                output_name += letter
                input = inputTensor(letter)
            return output_name

    rnn.eval()
    greedy = {c: sample(c, "K") for c in all_categories}
    random = [sample(c, s, greedy=False) for c in all_categories for s in "BO"]
    return {"init_state": init_state, "losses": losses, "greedy": greedy, "random": random}
