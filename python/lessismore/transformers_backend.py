"""LessIsMore as an attention backend of Hugging Face transformers: attn_implementation="lessismore".

    import lessismore.transformers_backend as lim_hf
    lim_hf.register()                                   # once per process
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="lessismore", dtype=torch.bfloat16)
    lim_hf.configure(model, mode="lessismore", budget=2048)   # or mode="full" / "tidaldecode"

Prefill (more than one query token) runs PyTorch's SDPA. Each decode step runs our kernels on the cache
transformers keeps (DynamicCache or StaticCache, contiguous [B, Hkv, N, D]): in "full" mode every layer is
our decode attention; in "lessismore" mode the layers before the first selection layer attend fully, each
selection layer attends fully and selects one token set per request (its heads' picks merged, sinks and a
recency window), and the layers after it attend over that set; "tidaldecode" selects per head instead.
Sequence lengths come from the position ids of the step (StaticCache) or the cache's length (DynamicCache);
left-padded batches are not supported (each request's tokens must start at position 0).
"""

from dataclasses import dataclass, field

import torch

from . import ops, presets

NAME = "lessismore"
MODES = ("full", "lessismore", "tidaldecode")


@dataclass
class Settings:
    """How a model decodes with the backend (configure() sets it; the paper's defaults)."""

    mode: str = "lessismore"
    budget: int = 2048
    recency_ratio: float = 0.25
    sinks: int = 4
    selection_layers: tuple = (2,)  # the first one starts the sparse layers; each one selects again
    current: tuple = field(default=None, repr=False)  # the last selection layer's (indices, counts), used by the layers after it
    first_layer: int = 0  # the lowest attached layer: it works out the step's sequence lengths for all of them
    lengths: tuple = field(default=None, repr=False)  # this step's (seqlens, capacity), from the first layer


def configure(model, mode: str = "lessismore", budget: int = 2048, recency_ratio: float = 0.25, sinks: int = 4, selection_layers=None):
    """Sets how `model` (loaded with attn_implementation="lessismore") decodes. selection_layers None: the paper's
    layers for a model of a preset's shape (runtime/presets.json: Qwen3-8B 2 and 12, Qwen3-4B 2 and 20,
    Llama-3.1-8B 2 and 13), else layer 2 alone; name them for a fine-tuned model whose paper setting differs from
    its base model's (DeepSeek-R1-Distill-Llama-8B: 2 and 12)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if selection_layers is None:
        match = presets.preset_for(model.config, presets.load_presets())
        selection_layers = tuple(match["selectionLayers"]) if match else (2,)
    layers = getattr(model.config, "num_hidden_layers", None)
    if not selection_layers or (layers is not None and max(selection_layers) >= layers):
        raise ValueError(f"selection_layers {tuple(selection_layers)} must name layers of the model (it has {layers})")
    settings = Settings(mode, budget, recency_ratio, sinks, tuple(sorted(selection_layers)))
    attached = []
    for module in model.modules():  # every attention module shares the settings and the current set
        if hasattr(module, "layer_idx") and hasattr(module, "num_key_value_groups"):
            module.lessismore = settings
            attached.append(module.layer_idx)
    settings.first_layer = min(attached, default=0)
    if not attached:
        raise ValueError(f"{type(model).__name__} has no attention modules with a layer_idx: the backend supports Llama- and Qwen3-style models")


def _seqlens(query, key, attention_mask, kwargs):
    """[B] int32 tokens of each request including the new one, and the rows the kernels may read."""
    capacity = key.shape[2]
    position_ids = kwargs.get("position_ids")
    if position_ids is not None:
        last = position_ids[:, -1].to(torch.int32) + 1
        return last.expand(query.shape[0]).contiguous(), capacity
    if attention_mask is None:  # a DynamicCache holds exactly the tokens so far
        return torch.full((query.shape[0],), capacity, dtype=torch.int32, device=query.device), capacity
    allowed = attention_mask[:, 0, -1, :] if attention_mask.dtype == torch.bool else attention_mask[:, 0, -1, :] == 0
    return allowed.sum(-1, dtype=torch.int32).expand(query.shape[0]).contiguous(), capacity


def lessismore_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """The attention function transformers calls: query [B, Hq, S, D], key and value [B, Hkv, N, D]."""
    if query.shape[2] != 1 or module.training:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    settings = getattr(module, "lessismore", None)
    if settings is None:
        raise RuntimeError("attn_implementation='lessismore' needs lessismore.transformers_backend.configure(model, ...) before decoding")
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    q = query[:, :, 0, :]
    layer = module.layer_idx
    # The lengths are the same in every layer of a step: worked out once (two small kernels fewer per layer,
    # measured: bench/NOTES.md section 17), again wherever a layer's cache has another capacity.
    if layer == settings.first_layer or settings.lengths is None or settings.lengths[1] != key.shape[2]:
        settings.lengths = _seqlens(query, key, attention_mask, kwargs)
    seqlens, capacity = settings.lengths
    first = settings.selection_layers[0]
    if settings.mode == "full" or layer < first:
        out, _ = ops.decode_attention(q, key, value, seqlens, capacity, scale)
    elif layer in settings.selection_layers:
        out, _, logits = ops.decode_attention_with_logits(q, key, value, seqlens, capacity, scale)
        if settings.mode == "lessismore":
            settings.current = ops.select_lessismore(logits, seqlens, capacity, settings.budget, settings.recency_ratio, settings.sinks)
        else:
            settings.current = ops.select_per_head(logits, seqlens, capacity, settings.budget)
    else:
        indices, counts = settings.current
        attend = ops.sparse_attention if settings.mode == "lessismore" else ops.sparse_attention_per_head
        out, _ = attend(q, key, value, seqlens, indices, counts, capacity, scale)
    return out.unsqueeze(1), None  # [B, 1, Hq, D], as transformers' attention functions return


def register():
    """Registers attn_implementation="lessismore" (and its mask: SDPA's, used at prefill)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    AttentionInterface.register(NAME, lessismore_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
