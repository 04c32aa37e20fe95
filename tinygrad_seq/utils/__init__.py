"""torch.utils's path for the data pipeline: `tg.utils.data` is `tinygrad_seq.data`
(DataLoader, samplers, Subset, random_split ...), so `torch.utils.data.DataLoader` reads
the same after `import tinygrad_seq as torch`."""
from .. import data  # noqa: F401
