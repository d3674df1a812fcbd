"""The transformers backend's default selection layers, with the standard library only (no PyTorch): a
transformers configuration of a preset's shape finds that preset in runtime/presets.json (the file the decode
runtime's presets come from), other shapes find none.

    python3 -m unittest discover -s python/tests -p "test_*.py"      (a step of .ci/run)
"""

import importlib.util
import json
import os
import unittest
from types import SimpleNamespace

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PACKAGE = os.path.join(ROOT, "python", "lessismore")


def load(name: str):
    """One module of the package by its path (the package's __init__ imports PyTorch, which CI lacks)."""
    spec = importlib.util.spec_from_file_location(f"lessismore_{name}", os.path.join(PACKAGE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


presets = load("presets")
with open(os.path.join(ROOT, "runtime", "presets.json"), encoding="utf-8") as f:
    PRESETS = json.load(f)


def config(layers, heads, kv_heads, hidden, head_dim=None):
    """The attention shape of a transformers configuration (Qwen3 names head_dim; older Llama configs do not)."""
    c = SimpleNamespace(num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads, hidden_size=hidden)
    if head_dim is not None:
        c.head_dim = head_dim
    return c


class PresetTest(unittest.TestCase):
    def test_the_papers_models_find_their_layers(self):
        self.assertEqual(presets.preset_for(config(36, 32, 8, 4096, 128), PRESETS)["selectionLayers"], [2, 12])  # Qwen3-8B
        self.assertEqual(presets.preset_for(config(36, 32, 8, 2560, 128), PRESETS)["selectionLayers"], [2, 20])  # Qwen3-4B
        self.assertEqual(presets.preset_for(config(32, 32, 8, 4096), PRESETS)["selectionLayers"], [2, 13])  # Llama-3.1-8B, head dim from hidden / heads

    def test_other_shapes_find_none(self):
        self.assertIsNone(presets.preset_for(config(6, 4, 2, 256, 64), PRESETS))  # the backend test's small Qwen3
        self.assertIsNone(presets.preset_for(config(36, 32, 4, 4096, 128), PRESETS))  # one field off
        self.assertIsNone(presets.preset_for(config(36, 32, 8, 4096, 128), {}))

    def test_every_preset_selects_inside_its_model(self):
        for name, p in PRESETS.items():
            self.assertEqual(p["name"], name)
            self.assertTrue(p["selectionLayers"] and all(0 <= layer < p["layers"] for layer in p["selectionLayers"]), name)
            self.assertIsInstance(p.get("hiddenSize"), int, f"{name}: a preset needs hiddenSize to be matched")

    def test_the_tree_is_the_repository(self):
        self.assertEqual(load("repository").REPOSITORY, ROOT)


if __name__ == "__main__":
    unittest.main()
