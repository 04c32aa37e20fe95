"""torch.backends' everyday queries, so device-selection lines read the same:
`torch.backends.mps.is_available()` (no Apple GPU backend here: False) and the cuDNN switches
scripts set for reproducibility (`torch.backends.cudnn.deterministic = True`). This library
does not use cuDNN, so cudnn.is_available() is False and its flags are plain settings that
change nothing."""
from types import SimpleNamespace

mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
cudnn = SimpleNamespace(is_available=lambda: False, enabled=True, benchmark=False, deterministic=False)
