"""The API coverage table: everyday PyTorch names (curated below) and whether tinygrad_seq has
each, found by introspection. The table lives in TARGET between the markers; this test
regenerates it from the code and fails when the file differs. Regenerate with

    python -m tests.test_api_coverage --write
"""
import sys
from pathlib import Path

import pytest

import tinygrad_seq

TARGET = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- api-coverage:start -->", "<!-- api-coverage:end -->"
COLUMNS = 4   # (name, ours) pairs per table row

TENSOR_METHODS = """
T abs abs_ add add_ addmm all allclose amax amin any argmax argmin argsort backward bernoulli
bernoulli_ bmm bool ceil chunk clamp clamp_ clip clone contiguous copy_ cos cpu cuda cumprod
cumsum data detach detach_ device diag dim div div_ double dtype element_size eq equal exp exp_
expand expand_as fill_ flatten flip float floor gather ge grad grad_fn gt half index_add_
index_fill_ index_select int is_contiguous is_cuda is_leaf isinf isnan item le log log1p
log_softmax logical_and logical_not logical_or logsumexp long lt mT masked_fill masked_fill_
masked_select matmul max mean median min mm mul mul_ multinomial narrow ndim ndimension ne neg
new_empty new_full new_ones new_tensor new_zeros nonzero norm normal_ numel numpy permute pow
prod register_hook relu repeat repeat_interleave requires_grad requires_grad_ reshape reshape_as
retain_grad round rsqrt scatter scatter_ scatter_add_ select shape sigmoid sign sin size softmax
sort split sqrt square squeeze squeeze_ std stride sub sub_ sum t t_ tanh to tolist topk
transpose transpose_ tril triu type type_as unbind unfold uniform_ unique unsqueeze unsqueeze_
var view view_as where zero_
""".split()

TORCH_FUNCTIONS = """
abs add all allclose any arange argmax argmin argsort as_tensor bernoulli bmm cat cdist chunk
clamp clip clone cos cumsum device diag div einsum empty empty_like enable_grad eq equal exp eye
flatten flip from_numpy full full_like gather get_default_dtype get_rng_state index_select
inference_mode is_grad_enabled is_tensor isnan linspace load log log_softmax logsumexp
manual_seed masked_fill matmul max maximum mean meshgrid min minimum mm mul multinomial
no_grad norm normal numel ones ones_like outer permute pow rand rand_like randint randn
randn_like randperm relu repeat_interleave reshape save set_default_dtype set_grad_enabled
set_rng_state sigmoid sign softmax sort split sqrt square squeeze stack std sub sum t tanh
tensor tensordot topk transpose tril triu unbind unique unsqueeze var where zeros zeros_like
float32 float64 int64 long bool
""".split()

FUNCTIONAL = """
adaptive_avg_pool1d adaptive_avg_pool2d adaptive_max_pool1d avg_pool1d avg_pool2d batch_norm
binary_cross_entropy binary_cross_entropy_with_logits conv1d conv2d cosine_similarity
cross_entropy dropout elu embedding gelu glu hardtanh interpolate kl_div l1_loss layer_norm
leaky_relu linear log_softmax logsigmoid max_pool1d max_pool2d mse_loss nll_loss normalize
one_hot pad relu relu6 scaled_dot_product_attention selu sigmoid silu smooth_l1_loss softmax
softplus tanh
""".split()

NN = """
Module Parameter Sequential ModuleList ModuleDict ParameterList Linear Conv1d Conv2d
ConvTranspose2d MaxPool1d MaxPool2d AvgPool1d AvgPool2d AdaptiveAvgPool2d AdaptiveMaxPool1d
Dropout Dropout2d Embedding EmbeddingBag RNN LSTM GRU RNNCell LSTMCell GRUCell
MultiheadAttention TransformerEncoderLayer LayerNorm BatchNorm1d BatchNorm2d ReLU LeakyReLU GELU
ELU SiLU Tanh Sigmoid Softmax LogSoftmax Flatten Unflatten Identity CrossEntropyLoss NLLLoss
MSELoss L1Loss BCELoss BCEWithLogitsLoss SmoothL1Loss KLDivLoss
init.uniform_ init.normal_ init.zeros_ init.ones_ init.constant_ init.xavier_uniform_
init.xavier_normal_ init.kaiming_uniform_ init.kaiming_normal_ init.orthogonal_
utils.clip_grad_norm_ utils.clip_grad_value_ utils.parameters_to_vector
utils.vector_to_parameters utils.rnn.pad_sequence utils.rnn.pack_padded_sequence
utils.rnn.pad_packed_sequence utils.rnn.pack_sequence parallel.DistributedDataParallel
""".split()

OPTIM = """
Optimizer SGD Adam AdamW Adagrad Adadelta RMSprop Adamax NAdam RAdam LBFGS
lr_scheduler.StepLR lr_scheduler.MultiStepLR lr_scheduler.ExponentialLR
lr_scheduler.CosineAnnealingLR lr_scheduler.CosineAnnealingWarmRestarts lr_scheduler.LambdaLR
lr_scheduler.LinearLR lr_scheduler.OneCycleLR lr_scheduler.CyclicLR
lr_scheduler.ReduceLROnPlateau lr_scheduler.SequentialLR
""".split()

DATA = """
Dataset IterableDataset TensorDataset ConcatDataset Subset random_split DataLoader Sampler
SequentialSampler RandomSampler SubsetRandomSampler WeightedRandomSampler BatchSampler
DistributedSampler default_collate get_worker_info
""".split()

# (title, torch's prefix, how to find the namespace in a library module, names)
SECTIONS = [
    ("Tensor methods and attributes", "torch.Tensor.", lambda lib: lib.Tensor, TENSOR_METHODS),
    ("torch functions and dtypes", "torch.", lambda lib: lib, TORCH_FUNCTIONS),
    ("torch.nn.functional", "F.", lambda lib: lib.nn.functional, FUNCTIONAL),
    ("torch.nn", "nn.", lambda lib: lib.nn, NN),
    ("torch.optim", "optim.", lambda lib: lib.optim, OPTIM),
    ("torch.utils.data", "torch.utils.data.", lambda lib: lib.utils.data, DATA),
]


def has(namespace, dotted):
    """Whether `namespace` has the dotted name (`utils.rnn.pad_sequence`), found by getattr."""
    for part in dotted.split("."):
        try:
            namespace = getattr(namespace, part)
        except (AttributeError, ImportError):
            return False
    return True


def coverage():
    """[(title, prefix, [(name, present)])] for tinygrad_seq, by introspection."""
    return [(title, prefix, [(n, has(where(tinygrad_seq), n)) for n in names])
            for title, prefix, where, names in SECTIONS]


def render():
    """The markdown block between the markers (markers included)."""
    lines = [START,
             "<!-- generated by `python -m tests.test_api_coverage --write`; do not edit by hand -->",
             "", "| PyTorch namespace | in tinygrad_seq | everyday names checked |", "|---|---|---|"]
    sections = coverage()
    for title, _, rows in sections:
        lines.append(f"| {title} | {sum(p for _, p in rows)} | {len(rows)} |")
    for title, prefix, rows in sections:
        lines += ["", f"**{title}** (`{prefix}NAME`; yes: tinygrad_seq has it under the same name)", "",
                  "| " + " | ".join(["PyTorch", "ours"] * COLUMNS) + " |",
                  "|" + "---|" * (2 * COLUMNS)]
        for i in range(0, len(rows), COLUMNS):
            cells = [c for n, p in rows[i:i + COLUMNS] for c in (f"`{n}`", "yes" if p else "no")]
            cells += [""] * (2 * COLUMNS - len(cells))
            lines.append("| " + " | ".join(cells) + " |")
    lines.append(END)
    return "\n".join(lines)


def updated(text):
    """`text` with the block between the markers replaced by a fresh one."""
    if START not in text or END not in text:
        return text.rstrip("\n") + "\n\n" + render() + "\n"
    head, rest = text.split(START, 1)
    return head + render() + rest.split(END, 1)[1]


def test_coverage_table_is_current():
    text = TARGET.read_text()
    assert START in text and END in text, f"{TARGET.name} lacks the {START} / {END} markers"
    assert updated(text) == text, (f"the API coverage table in {TARGET.name} is out of date; "
                                   "regenerate it with `python -m tests.test_api_coverage --write`")


def test_curated_names_are_unique():
    for title, _, _, names in SECTIONS:
        assert len(names) == len(set(names)), f"{title}: duplicated names"


def test_curated_names_exist_in_torch():
    """Each name in the lists is a real PyTorch name, so the table compares like with like."""
    torch = pytest.importorskip("torch")
    import torch.utils.data   # noqa: F401
    missing = [prefix + n for title, prefix, where, names in SECTIONS for n in names
               if not has(where(torch), n)]
    assert not missing, f"not PyTorch names: {missing}"


def test_has_finds_names_by_introspection():
    assert has(tinygrad_seq.Tensor, "topk") and has(tinygrad_seq.nn, "utils.rnn.pad_sequence")
    assert not has(tinygrad_seq.Tensor, "no_such_method") and not has(tinygrad_seq.nn, "init.nope")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        TARGET.write_text(updated(TARGET.read_text() if TARGET.exists() else
                                  "# PyTorch API coverage\n\nEveryday PyTorch names and whether "
                                  "tinygrad_seq has each under the same name.\n"))
        print(f"wrote the API coverage table into {TARGET}")
    else:
        print(render())
