"""LessIsMore's kernels (liblim) on PyTorch tensors: the C ABI through its generated ctypes binding.

`import lessismore.ops` registers them as custom operators, torch.ops.lessismore.*.
"""

from .library import DEFAULT_LIBRARY, FP8_DTYPES, Lim, LimError
from .paged import PagedKV
from .tensor_parallel import local_heads, select_lessismore_tensor_parallel

__all__ = ["DEFAULT_LIBRARY", "FP8_DTYPES", "Lim", "LimError", "PagedKV", "local_heads", "select_lessismore_tensor_parallel"]
