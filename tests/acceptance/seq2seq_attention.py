"""Sequence-to-sequence translation with attention, in the shape of PyTorch's seq2seq
translation tutorial: Lang vocabularies, an EncoderRNN (Embedding + GRU, batch_first), an
AttnDecoderRNN whose Bahdanau attention weighs the encoder outputs through bmm, teacher forcing
or greedy topk feedback, Adam and NLLLoss over a DataLoader, and greedy evaluation. The two
"languages" are synthetic: the target sentence is the source reversed, word by word renamed."""
import numpy as np

from ._common import numpy_state, load_numpy_state

SOS_token, EOS_token = 0, 1
MAX_LENGTH = 6


class Lang:
    def __init__(self, name):
        self.name = name
        self.word2index, self.word2count = {}, {}
        self.index2word = {0: "SOS", 1: "EOS"}
        self.n_words = 2   # count SOS and EOS

    def addSentence(self, sentence):
        for word in sentence.split(" "):
            self.addWord(word)

    def addWord(self, word):
        if word not in self.word2index:
            self.word2index[word] = self.n_words
            self.word2count[word] = 1
            self.index2word[self.n_words] = word
            self.n_words += 1
        else:
            self.word2count[word] += 1


def synthetic_pairs(n=24, vocab=8, seed=0):
    """(source, target) sentence pairs: target = source reversed, word w<i> renamed to v<i>."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        words = rng.integers(0, vocab, rng.integers(2, MAX_LENGTH - 1))
        pairs.append((" ".join(f"w{i}" for i in words), " ".join(f"v{i}" for i in words[::-1])))
    return pairs


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class EncoderRNN(nn.Module):
        def __init__(self, input_size, hidden_size, dropout_p=0.1):
            super().__init__()
            self.hidden_size = hidden_size
            self.embedding = nn.Embedding(input_size, hidden_size)
            self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, input):
            embedded = self.dropout(self.embedding(input))
            output, hidden = self.gru(embedded)
            return output, hidden

    class BahdanauAttention(nn.Module):
        def __init__(self, hidden_size):
            super().__init__()
            self.Wa = nn.Linear(hidden_size, hidden_size)
            self.Ua = nn.Linear(hidden_size, hidden_size)
            self.Va = nn.Linear(hidden_size, 1)

        def forward(self, query, keys):
            scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
            scores = scores.squeeze(2).unsqueeze(1)
            weights = F.softmax(scores, dim=-1)
            context = torch.bmm(weights, keys)
            return context, weights

    class AttnDecoderRNN(nn.Module):
        def __init__(self, hidden_size, output_size, dropout_p=0.1):
            super().__init__()
            self.embedding = nn.Embedding(output_size, hidden_size)
            self.attention = BahdanauAttention(hidden_size)
            self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
            self.out = nn.Linear(hidden_size, output_size)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
            batch_size = encoder_outputs.size(0)
            decoder_input = torch.empty(batch_size, 1, dtype=torch.long).fill_(SOS_token)
            decoder_hidden = encoder_hidden
            decoder_outputs, attentions = [], []
            for i in range(MAX_LENGTH):
                decoder_output, decoder_hidden, attn_weights = self.forward_step(
                    decoder_input, decoder_hidden, encoder_outputs)
                decoder_outputs.append(decoder_output)
                attentions.append(attn_weights)
                if target_tensor is not None:   # teacher forcing: feed the target as the next input
                    decoder_input = target_tensor[:, i].unsqueeze(1)
                else:   # without teacher forcing: use its own predictions as the next input
                    _, topi = decoder_output.topk(1)
                    decoder_input = topi.squeeze(-1).detach()
            decoder_outputs = torch.cat(decoder_outputs, dim=1)
            decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
            attentions = torch.cat(attentions, dim=1)
            return decoder_outputs, decoder_hidden, attentions

        def forward_step(self, input, hidden, encoder_outputs):
            embedded = self.dropout(self.embedding(input))
            query = hidden.permute(1, 0, 2)
            context, attn_weights = self.attention(query, encoder_outputs)
            input_gru = torch.cat((embedded, context), dim=2)
            output, hidden = self.gru(input_gru, hidden)
            output = self.out(output)
            return output, hidden, attn_weights

    return EncoderRNN, AttnDecoderRNN


def run(torch, state=None, seed=0, n_epochs=4, hidden_size=12, batch_size=8, learning_rate=0.01,
        dropout_p=0.0, teacher_forcing_ratio=0.5, shuffle=False):
    """Returns the initial weights (encoder and decoder), per-batch losses, and greedy
    translations with their attention maps."""
    nn, optim, data = torch.nn, torch.optim, torch.utils.data
    torch.manual_seed(seed)
    pairs = synthetic_pairs()
    input_lang, output_lang = Lang("src"), Lang("tgt")
    for src, tgt in pairs:
        input_lang.addSentence(src)
        output_lang.addSentence(tgt)

    def indexesFromSentence(lang, sentence):
        return [lang.word2index[word] for word in sentence.split(" ")]

    def tensorFromSentence(lang, sentence):
        indexes = indexesFromSentence(lang, sentence)
        indexes.append(EOS_token)
        return torch.tensor(indexes, dtype=torch.long).view(1, -1)

    n = len(pairs)
    input_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)
    target_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)
    for idx, (inp, tgt) in enumerate(pairs):
        inp_ids = indexesFromSentence(input_lang, inp) + [EOS_token]
        tgt_ids = indexesFromSentence(output_lang, tgt) + [EOS_token]
        input_ids[idx, :len(inp_ids)] = inp_ids
        target_ids[idx, :len(tgt_ids)] = tgt_ids
    train_data = data.TensorDataset(torch.LongTensor(input_ids), torch.LongTensor(target_ids))
    sampler = data.RandomSampler(train_data) if shuffle else data.SequentialSampler(train_data)
    train_dataloader = data.DataLoader(train_data, sampler=sampler, batch_size=batch_size)

    EncoderRNN, AttnDecoderRNN = build(torch)
    encoder = EncoderRNN(input_lang.n_words, hidden_size, dropout_p).double()
    decoder = AttnDecoderRNN(hidden_size, output_lang.n_words, dropout_p).double()
    if state is not None:
        load_numpy_state(torch, encoder, state["encoder"])
        load_numpy_state(torch, decoder, state["decoder"])
    init_state = {"encoder": numpy_state(encoder), "decoder": numpy_state(decoder)}
    encoder_optimizer = optim.Adam(encoder.parameters(), lr=learning_rate)
    decoder_optimizer = optim.Adam(decoder.parameters(), lr=learning_rate)
    criterion = nn.NLLLoss()

    forcing = np.random.default_rng(seed + 1)   # the same coin flips in both libraries
    losses = []
    for epoch in range(n_epochs):
        encoder.train()
        decoder.train()
        for input_tensor, target_tensor in train_dataloader:
            encoder_optimizer.zero_grad()
            decoder_optimizer.zero_grad()
            encoder_outputs, encoder_hidden = encoder(input_tensor)
            use_teacher_forcing = forcing.random() < teacher_forcing_ratio
            decoder_outputs, _, _ = decoder(encoder_outputs, encoder_hidden,
                                            target_tensor if use_teacher_forcing else None)
            loss = criterion(decoder_outputs.view(-1, decoder_outputs.size(-1)), target_tensor.view(-1))
            loss.backward()
            encoder_optimizer.step()
            decoder_optimizer.step()
            losses.append(loss.item())

    def evaluate(sentence):
        with torch.no_grad():
            input_tensor = tensorFromSentence(input_lang, sentence)
            encoder_outputs, encoder_hidden = encoder(input_tensor)
            decoder_outputs, decoder_hidden, decoder_attn = decoder(encoder_outputs, encoder_hidden)
            _, topi = decoder_outputs.topk(1)
            decoded_ids = topi.squeeze()
            decoded_words = []
            for idx in decoded_ids:
                if idx.item() == EOS_token:
                    decoded_words.append("<EOS>")
                    break
                decoded_words.append(output_lang.index2word[idx.item()])
        return decoded_words, decoder_attn

    encoder.eval()
    decoder.eval()
    translations, attentions = [], []
    for src, _ in pairs[:4]:
        words, attn = evaluate(src)
        translations.append(" ".join(words))
        attentions.append(attn.numpy())
    return {"init_state": init_state, "losses": losses, "translations": translations,
            "attentions": attentions}
