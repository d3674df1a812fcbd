"""The paper's models and the layers LessIsMore selects at in each (runtime/presets.json, which the decode
runtime's presets come from too), and the match of a transformers configuration to one of them by its shape.
No PyTorch here."""

import json
import os


def load_presets() -> dict:
    """runtime/presets.json of the clone: name -> {layers, qHeads, kvHeads, headDim, hiddenSize, selectionLayers, ...}."""
    from .repository import REPOSITORY

    with open(os.path.join(REPOSITORY, "runtime", "presets.json"), encoding="utf-8") as f:
        return json.load(f)


def shape_of(config) -> tuple:
    """(layers, query heads, KV heads, head dim, hidden size) of a transformers configuration."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return (config.num_hidden_layers, heads, getattr(config, "num_key_value_heads", None) or heads, head_dim, config.hidden_size)


def preset_for(config, presets: dict):
    """The preset whose shape is the configuration's, or None. Fine-tuned derivatives share their base model's
    shape (and so its preset) even where the paper used another re-selection layer for them."""
    shape = shape_of(config)
    for preset in presets.values():
        if (preset["layers"], preset["qHeads"], preset["kvHeads"], preset["headDim"], preset.get("hiddenSize")) == shape:
            return preset
    return None
