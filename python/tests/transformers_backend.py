"""The transformers backend on a small random Qwen3, and a small random Llama (nothing downloaded):

- "full" mode: every decode step's logits equal SDPA's within bf16 rounding, 64 greedy steps fed the same tokens,
  on a DynamicCache and on a StaticCache (the contiguous buffers the kernels read in place), for both models;
- "lessismore" with a budget above every length: the same logits as "full" (the set is every token);
- "lessismore" and "tidaldecode" with a small budget decode (finite logits) and select;
- a checkpoint saved to disk and loaded again with from_pretrained(attn_implementation="lessismore") decodes.

    python3 python/tests/transformers_backend.py
"""

import os
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM, DynamicCache, LlamaConfig, Qwen3Config, StaticCache

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import lessismore.transformers_backend as lim_hf  # noqa: E402

STEPS, PROMPT = 64, 200


def check(ok: bool, what: str):
    if not ok:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}", flush=True)


def tiny_config():
    # Head dim 128 and 4 query heads per KV head: shapes the default generated variants cover.
    return Qwen3Config(vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=6, num_attention_heads=4,
                       num_key_value_heads=1, head_dim=128, max_position_embeddings=4096, tie_word_embeddings=False)


def tiny_llama_config():
    # Llama has no head_dim of its own here: hidden 512 / 4 heads = 128.
    return LlamaConfig(vocab_size=512, hidden_size=512, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=4,
                       num_key_value_heads=1, max_position_embeddings=4096, tie_word_embeddings=False)


def decode_logits(model, prompt, tokens, static=False):
    """Prefill `prompt`, then feed `tokens` one at a time: the logits of every decode step, [steps, B, vocab].
    static: a StaticCache of room for all of them, every call given its positions (as a captured step is)."""
    B, P = prompt.shape
    cache = StaticCache(config=model.config, max_cache_len=P + tokens.shape[1]) if static else DynamicCache(config=model.config)
    with torch.no_grad():
        at = torch.arange(P, device=prompt.device)
        model(input_ids=prompt, past_key_values=cache, use_cache=True, cache_position=at, position_ids=at.expand(B, -1))
        out = []
        for t in range(tokens.shape[1]):
            at = torch.tensor([P + t], device=prompt.device)
            step = model(input_ids=tokens[:, t:t + 1], past_key_values=cache, use_cache=True, cache_position=at, position_ids=at.expand(B, -1))
            out.append(step.logits[:, -1].float())
    return torch.stack(out)


def full_mode_matches_sdpa(name, make_config, static):
    """Our full mode against SDPA on one model family and cache kind: the logits of every greedy step. Returns
    both models (the same weights), the prompt, the greedy tokens and both modes' logits."""
    # One configuration object each: from_config records the attention implementation in it.
    sdpa = AutoModelForCausalLM.from_config(make_config(), attn_implementation="sdpa", dtype=torch.bfloat16).cuda().eval()
    ours = AutoModelForCausalLM.from_config(make_config(), attn_implementation="lessismore", dtype=torch.bfloat16).cuda().eval()
    ours.load_state_dict(sdpa.state_dict())
    prompt = torch.randint(0, sdpa.config.vocab_size, (2, PROMPT), device="cuda")
    with torch.no_grad():
        greedy = sdpa.generate(prompt, max_new_tokens=STEPS, do_sample=False, min_new_tokens=STEPS)[:, PROMPT:]
    want = decode_logits(sdpa, prompt, greedy, static)
    lim_hf.configure(ours, mode="full")
    got = decode_logits(ours, prompt, greedy, static)
    err = ((got - want).abs().max() / want.abs().max()).item()
    cache = "StaticCache" if static else "DynamicCache"
    check(err < 3e-2, f"{name}, {cache}: full mode's {STEPS} steps' logits equal SDPA's within bf16 rounding (max error {err:.1e} of the largest)")
    check(torch.equal(got.argmax(-1), want.argmax(-1)) or err < 3e-2, f"{name}, {cache}: full mode picks SDPA's tokens")
    return sdpa, ours, prompt, greedy, got


def main():
    torch.manual_seed(0)
    lim_hf.register()
    sdpa, ours, prompt, greedy, got = full_mode_matches_sdpa("Qwen3", tiny_config, static=False)

    lim_hf.configure(ours, mode="lessismore", budget=1024, selection_layers=(2, 4))
    every = decode_logits(ours, prompt, greedy)
    err = ((every - got).abs().max() / got.abs().max()).item()
    check(err < 3e-2, f"lessismore with a budget above every length equals full mode (max error {err:.1e})")

    for mode in ("lessismore", "tidaldecode"):
        lim_hf.configure(ours, mode=mode, budget=64, selection_layers=(2,))
        sparse = decode_logits(ours, prompt, greedy)
        check(bool(torch.isfinite(sparse).all()), f"{mode} with budget 64 decodes {STEPS} steps with finite logits")

    with tempfile.TemporaryDirectory() as d:
        sdpa.save_pretrained(d)
        loaded = AutoModelForCausalLM.from_pretrained(d, attn_implementation="lessismore", dtype=torch.bfloat16).cuda().eval()
        lim_hf.configure(loaded, mode="lessismore", budget=128)
        with torch.no_grad():
            text = loaded.generate(prompt, max_new_tokens=8, do_sample=False)
        check(text.shape == (2, PROMPT + 8), "from_pretrained(attn_implementation='lessismore') of a saved checkpoint generates")
    for name, make, static in (("Qwen3", tiny_config, True), ("Llama", tiny_llama_config, False), ("Llama", tiny_llama_config, True)):
        full_mode_matches_sdpa(name, make, static)
    print("transformers backend: every check passed")


if __name__ == "__main__":
    main()
