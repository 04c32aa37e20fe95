"""Sequence-to-sequence translation with attention in the shape of the first version of
PyTorch's seq2seq tutorial: one sentence at a time, the encoder run step by step with its
outputs written into a zeros buffer (encoder_outputs[ei] = encoder_output[0, 0]), an
AttnDecoderRNN whose attention is a Linear over (embedding, hidden) spread across max_length
positions and applied with bmm, teacher forcing by coin flip, greedy topk feedback that stops
at EOS, the loss summed from 0 with +=, and SGD. Same synthetic pairs as seq2seq_attention."""
import numpy as np

from ._common import numpy_state, load_numpy_state
from .seq2seq_attention import Lang, synthetic_pairs, SOS_token, EOS_token, MAX_LENGTH


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class EncoderRNN(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.hidden_size = hidden_size
            self.embedding = nn.Embedding(input_size, hidden_size)
            self.gru = nn.GRU(hidden_size, hidden_size)

        def forward(self, input, hidden):
            embedded = self.embedding(input).view(1, 1, -1)
            output, hidden = self.gru(embedded, hidden)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, 1, self.hidden_size, dtype=torch.double)

    class AttnDecoderRNN(nn.Module):
        def __init__(self, hidden_size, output_size, dropout_p=0.1, max_length=MAX_LENGTH):
            super().__init__()
            self.hidden_size, self.output_size, self.max_length = hidden_size, output_size, max_length
            self.embedding = nn.Embedding(self.output_size, self.hidden_size)
            self.attn = nn.Linear(self.hidden_size * 2, self.max_length)
            self.attn_combine = nn.Linear(self.hidden_size * 2, self.hidden_size)
            self.dropout = nn.Dropout(dropout_p)
            self.gru = nn.GRU(self.hidden_size, self.hidden_size)
            self.out = nn.Linear(self.hidden_size, self.output_size)

        def forward(self, input, hidden, encoder_outputs):
            embedded = self.embedding(input).view(1, 1, -1)
            embedded = self.dropout(embedded)
            attn_weights = F.softmax(self.attn(torch.cat((embedded[0], hidden[0]), 1)), dim=1)
            attn_applied = torch.bmm(attn_weights.unsqueeze(0), encoder_outputs.unsqueeze(0))
            output = torch.cat((embedded[0], attn_applied[0]), 1)
            output = self.attn_combine(output).unsqueeze(0)
            output = F.relu(output)
            output, hidden = self.gru(output, hidden)
            output = F.log_softmax(self.out(output[0]), dim=1)
            return output, hidden, attn_weights

    return EncoderRNN, AttnDecoderRNN


def run(torch, state=None, seed=0, n_iters=30, hidden_size=10, learning_rate=0.05, dropout_p=0.0,
        teacher_forcing_ratio=0.5):
    """Returns the initial weights, per-pair losses and greedy translations."""
    nn, optim = torch.nn, torch.optim
    torch.manual_seed(seed)
    pairs = synthetic_pairs()
    input_lang, output_lang = Lang("src"), Lang("tgt")
    for src, tgt in pairs:
        input_lang.addSentence(src)
        output_lang.addSentence(tgt)

    def tensorFromSentence(lang, sentence):
        indexes = [lang.word2index[word] for word in sentence.split(" ")]
        indexes.append(EOS_token)
        return torch.tensor(indexes, dtype=torch.long).view(-1, 1)

    EncoderRNN, AttnDecoderRNN = build(torch)
    encoder = EncoderRNN(input_lang.n_words, hidden_size).double()
    decoder = AttnDecoderRNN(hidden_size, output_lang.n_words, dropout_p=dropout_p).double()
    if state is not None:
        load_numpy_state(torch, encoder, state["encoder"])
        load_numpy_state(torch, decoder, state["decoder"])
    init_state = {"encoder": numpy_state(encoder), "decoder": numpy_state(decoder)}
    encoder_optimizer = optim.SGD(encoder.parameters(), lr=learning_rate)
    decoder_optimizer = optim.SGD(decoder.parameters(), lr=learning_rate)
    criterion = nn.NLLLoss()
    coin = np.random.default_rng(seed + 1)   # the same choices in both libraries

    def train(input_tensor, target_tensor, max_length=MAX_LENGTH):
        encoder_hidden = encoder.initHidden()
        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()
        input_length, target_length = input_tensor.size(0), target_tensor.size(0)
        encoder_outputs = torch.zeros(max_length, encoder.hidden_size, dtype=torch.double)
        loss = 0
        for ei in range(input_length):
            encoder_output, encoder_hidden = encoder(input_tensor[ei], encoder_hidden)
            encoder_outputs[ei] = encoder_output[0, 0]
        decoder_input = torch.tensor([[SOS_token]])
        decoder_hidden = encoder_hidden
        use_teacher_forcing = coin.random() < teacher_forcing_ratio
        for di in range(target_length):
            decoder_output, decoder_hidden, decoder_attention = decoder(
                decoder_input, decoder_hidden, encoder_outputs)
            loss += criterion(decoder_output, target_tensor[di])
            if use_teacher_forcing:
                decoder_input = target_tensor[di]   # teacher forcing
            else:
                topv, topi = decoder_output.topk(1)
                decoder_input = topi.squeeze().detach()   # its own prediction as the next input
                if decoder_input.item() == EOS_token:
                    break
        loss.backward()
        encoder_optimizer.step()
        decoder_optimizer.step()
        return loss.item() / target_length

    losses = []
    for it in range(n_iters):
        src, tgt = pairs[coin.integers(len(pairs))]
        losses.append(train(tensorFromSentence(input_lang, src), tensorFromSentence(output_lang, tgt)))

    def evaluate(sentence, max_length=MAX_LENGTH):
        with torch.no_grad():
            input_tensor = tensorFromSentence(input_lang, sentence)
            encoder_hidden = encoder.initHidden()
            encoder_outputs = torch.zeros(max_length, encoder.hidden_size, dtype=torch.double)
            for ei in range(input_tensor.size()[0]):
                encoder_output, encoder_hidden = encoder(input_tensor[ei], encoder_hidden)
                encoder_outputs[ei] += encoder_output[0, 0]
            decoder_input = torch.tensor([[SOS_token]])
            decoder_hidden = encoder_hidden
            decoded_words = []
            decoder_attentions = torch.zeros(max_length, max_length, dtype=torch.double)
            for di in range(max_length):
                decoder_output, decoder_hidden, decoder_attention = decoder(
                    decoder_input, decoder_hidden, encoder_outputs)
                decoder_attentions[di] = decoder_attention
                topv, topi = decoder_output.topk(1)
                if topi.item() == EOS_token:
                    decoded_words.append("<EOS>")
                    break
                decoded_words.append(output_lang.index2word[topi.item()])
                decoder_input = topi.squeeze().detach()
            return decoded_words, decoder_attentions[:di + 1]

    encoder.eval()
    decoder.eval()
    translations, attentions = [], []
    for src, _ in pairs[:4]:
        words, attn = evaluate(src)
        translations.append(" ".join(words))
        attentions.append(attn.numpy())
    return {"init_state": init_state, "losses": losses, "translations": translations,
            "attentions": attentions}
