"""The word-level language model, in the shape of PyTorch's examples/word_language_model:
RNNModel (embedding -> LSTM/GRU/RNN_TANH -> tied decoder), batchify with narrow/view/t(),
truncated BPTT with repackage_hidden, manual SGD with p.add_ under no_grad, clip_grad_norm_,
an evaluation loop under no_grad, saving the best state_dict and annealing lr when the
validation loss rises. The corpus is a synthetic Markov chain."""
import io
import math

import numpy as np

from ._common import numpy_state, load_numpy_state


def synthetic_corpus(ntoken=16, length=420, seed=0):
    """A token stream from a random sparse Markov chain: predictable enough to learn."""
    rng = np.random.default_rng(seed)
    nxt = rng.integers(0, ntoken, size=(ntoken, 2))
    ids = [0]
    for _ in range(length - 1):
        ids.append(int(nxt[ids[-1], rng.integers(0, 2)]))
    return np.array(ids, dtype=np.int64)


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class RNNModel(nn.Module):
        """Container module with an encoder, a recurrent module, and a decoder."""

        def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
            super().__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            if rnn_type in ["LSTM", "GRU"]:
                self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
            else:
                nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
                self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            if tie_weights:
                if nhid != ninp:
                    raise ValueError("When using the tied flag, nhid must be equal to emsize")
                self.decoder.weight = self.encoder.weight
            self.init_weights()
            self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.encoder.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            self.rnn.flatten_parameters()
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output)
            decoded = decoded.view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            if self.rnn_type == "LSTM":
                return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                        weight.new_zeros(self.nlayers, bsz, self.nhid))
            return weight.new_zeros(self.nlayers, bsz, self.nhid)

    return RNNModel


def run(torch, rnn_type="LSTM", state=None, seed=0, epochs=2, ntoken=16, emsize=12, nhid=12,
        nlayers=2, dropout=0.0, tied=True, batch_size=4, bptt=7, lr=10.0, clip=0.25):
    """Train for `epochs`; returns the initial weights, per-batch training losses and the
    validation loss after each epoch."""
    nn = torch.nn
    torch.manual_seed(seed)
    RNNModel = build(torch)
    model = RNNModel(rnn_type, ntoken, emsize, nhid, nlayers, dropout, tied).double()
    if state is not None:
        load_numpy_state(torch, model, state)
    init_state = numpy_state(model)
    criterion = nn.NLLLoss()

    corpus = synthetic_corpus(ntoken)
    train_ids, val_ids = torch.tensor(corpus[:340]), torch.tensor(corpus[340:])

    def batchify(data, bsz):
        nbatch = data.size(0) // bsz          # trim off the remainder that does not fit
        data = data.narrow(0, 0, nbatch * bsz)
        return data.view(bsz, -1).t().contiguous()

    train_data, val_data = batchify(train_ids, batch_size), batchify(val_ids, 2)

    def repackage_hidden(h):
        """Wraps hidden states in new Tensors, to detach them from their history."""
        if isinstance(h, torch.Tensor):
            return h.detach()
        return tuple(repackage_hidden(v) for v in h)

    def get_batch(source, i):
        seq_len = min(bptt, len(source) - 1 - i)
        data = source[i:i + seq_len]
        target = source[i + 1:i + 1 + seq_len].view(-1)
        return data, target

    def evaluate(data_source):
        model.eval()
        total_loss = 0.
        hidden = model.init_hidden(2)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, bptt):
                data, targets = get_batch(data_source, i)
                output, hidden = model(data, hidden)
                hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    losses, val_losses, best_val_loss, best = [], [], None, io.BytesIO()
    for _ in range(epochs):
        model.train()
        hidden = model.init_hidden(batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
            data, targets = get_batch(train_data, i)
            model.zero_grad()
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            for p in model.parameters():   # the example's manual SGD, outside the graph
                p.data.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
        val_loss = evaluate(val_data)
        val_losses.append(val_loss)
        # save the model if the validation loss is the best we've seen so far
        if not best_val_loss or val_loss < best_val_loss:
            best.seek(0)
            best.truncate()
            torch.save(model.state_dict(), best)
            best_val_loss = val_loss
        else:   # anneal the learning rate if no improvement has been seen
            lr /= 4.0
    best.seek(0)   # load the best saved model and evaluate it once more
    model.load_state_dict(torch.load(best))
    final = evaluate(val_data)
    return {"init_state": init_state, "losses": losses, "val_losses": val_losses,
            "best_val_loss": final, "val_ppl": math.exp(final), "lr": lr}
