"""Where the toolkit's clone is: the one `pip install ./python` recorded, or the tree this package sits in.
The package reads the generated ctypes binding, the built library and the model presets from there."""

import os

try:  # installed with `pip install ./python`: the clone it was built from
    from ._installed import REPOSITORY
except ImportError:  # imported from the tree: python/lessismore in the clone
    REPOSITORY = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
