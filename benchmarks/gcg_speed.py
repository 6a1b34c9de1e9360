"""GCG speed: anthology's GCG against nanoGCG (GraySwanAI's reference implementation) on the same causal model
and objective, and anthology's GCG on its own GPT-NeoX classifier against Hugging Face's class.

1. Against nanoGCG. A Hugging Face `GPTNeoXForCausalLM` (random weights, a byte-level BPE vocabulary of 512
   trained here) and one prompt; the objective is the cross-entropy of one target token after the prompt, the
   only objective both can drive (nanoGCG optimises a target string under a causal LM; its loss on a one-token
   target is ours on the LM's last-position logits). Same search: 10 attack tokens, 128 single-swap candidates,
   top-256 per position, the retokenisation filter, one example. nanoGCG runs with its prefix KV cache (its
   default) and without. anthology also attacks 16 examples in lockstep, its way of running a batch.
2. The victim's implementation. anthology's GCG on `NeoXClassifier` against the same weights in Hugging
   Face's `GPTNeoXForSequenceClassification`, at the quick ladder's largest size and a bigger one.
Iterations per second per example and candidates scored per second, medians of `repeats` runs after a
warm-up run, one thread.

Run in the bench venv (`make bench` installs nanogcg): `.venv-bench/bin/python benchmarks/gcg_speed.py 3`.
Writes results/robust_scaling/gcg_speed.{json,md}.
"""

from __future__ import annotations

import json
import logging
import pathlib
import sys

import torch
import transformers

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from anthology.methods.robust_scaling.attacks import gcg
from anthology.methods.robust_scaling.config import AttackConfig
from anthology.text.neox import NeoXClassifier, NeoXConfig
from anthology.text.tasks import make_task
from anthology.text.tokenizer import CharTokenizer, train_bpe
from timing import median_seconds

OUT = pathlib.Path(__file__).resolve().parents[1] / "results" / "robust_scaling"
ITERATIONS, CANDIDATES, TOP_K, TOKENS = 10, 128, 256, 10


class LastTokenLM(torch.nn.Module):
    """A causal LM seen as a classifier over its vocabulary: the logits at each row's last token."""

    def __init__(self, lm: torch.nn.Module) -> None:
        super().__init__()
        self.lm = lm

    @property
    def embedding(self) -> torch.nn.Embedding:
        return self.lm.get_input_embeddings()

    def forward(self, ids=None, lengths=None, embeds=None):
        logits = self.lm(input_ids=ids, inputs_embeds=embeds).logits
        rows = torch.arange(logits.shape[0])
        return logits[rows, (lengths - 1) if lengths is not None else -1]


class HFClassifier(torch.nn.Module):
    """Hugging Face's GPTNeoXForSequenceClassification behind anthology's classifier interface."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    @property
    def embedding(self) -> torch.nn.Embedding:
        return self.model.get_input_embeddings()

    def forward(self, ids=None, lengths=None, embeds=None):
        hidden = self.model.gpt_neox(input_ids=ids, inputs_embeds=embeds).last_hidden_state
        rows = torch.arange(hidden.shape[0])
        return self.model.score(hidden[rows, (lengths - 1) if lengths is not None else -1])


def against_nanogcg(repeats: int) -> dict:
    import nanogcg

    task = make_task("password_match", 400, 16, 0)
    texts = [e.text(instructions=True) for e in task.train]
    bpe = train_bpe([*texts, "@&@&@&@&@&", "x x x x x"], vocab_size=512)
    hf_tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe.tokenizer, pad_token="<pad>")
    torch.manual_seed(0)
    cfg = transformers.GPTNeoXConfig(vocab_size=bpe.vocab_size, hidden_size=128, num_hidden_layers=3,
                                     num_attention_heads=4, intermediate_size=512, max_position_embeddings=256,
                                     pad_token_id=0)
    lm = transformers.GPTNeoXForCausalLM(cfg).eval()
    example = task.validation[0]
    before, after = example.split("suffix", instructions=True)
    target = " GRANTED" if example.label == 0 else " DENIED"
    target_id = bpe.encode(target)[0]
    prompt_tokens = len(bpe.encode(before + after)) + TOKENS
    rows = {"model": "GPTNeoXForCausalLM hidden 128, 3 layers, vocab 512",
            "parameters": sum(p.numel() for p in lm.parameters()), "prompt_tokens": prompt_tokens}
    logging.getLogger("nanogcg").setLevel(logging.WARNING)
    for cache in (True, False):
        config = nanogcg.GCGConfig(num_steps=ITERATIONS, optim_str_init=" ".join(["x"] * TOKENS), search_width=CANDIDATES,
                                   topk=TOP_K, use_prefix_cache=cache, filter_ids=True, seed=0, verbosity="WARNING")
        # nanoGCG puts the attack at the end of the user message; its template here is the message itself,
        # so the prompt is before + attack, and `after` goes into the target's context as ours
        messages = [{"role": "user", "content": before + "{optim_str}" + after}]
        seconds = median_seconds(lambda: nanogcg.run(lm, hf_tok, messages, target, config), repeats)  # noqa: B023
        rows[f"nanogcg_prefix_cache_{cache}"] = {"seconds": seconds, "iterations_per_sec": ITERATIONS / seconds,
                                                 "candidates_per_sec": ITERATIONS * CANDIDATES / seconds}
    model = LastTokenLM(lm)
    attack = AttackConfig("gcg", ITERATIONS, TOKENS, CANDIDATES, TOP_K)
    for count in (1, 16):
        pairs = [e.split("suffix", instructions=True) for e in task.validation[:count]]
        labels = torch.full((count,), -1)  # success is not scored here; the objective is the target token
        targets = torch.full((count,), target_id)
        seconds = median_seconds(lambda: gcg(model, bpe, pairs, labels, attack, targets=targets), repeats)  # noqa: B023
        rows[f"anthology_{count}_examples"] = {
            "seconds": seconds, "iterations_per_sec": ITERATIONS * count / seconds,
            "candidates_per_sec": ITERATIONS * CANDIDATES * count / seconds}
    return rows


def against_hf_class(repeats: int) -> list[dict]:

    tokenizer = CharTokenizer()
    task = make_task("word_length", 10, 16, 0)
    pairs = [e.split("suffix", instructions=False) for e in task.validation]
    labels = torch.tensor([e.label for e in task.validation])
    out = []
    for hidden, layers, heads in ((96, 2, 4), (256, 6, 8)):
        torch.manual_seed(0)
        ours = NeoXClassifier(NeoXConfig(tokenizer.vocab_size, hidden, layers, heads)).eval()
        hf_cfg = transformers.GPTNeoXConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                                            num_attention_heads=heads, intermediate_size=4 * hidden, rotary_pct=0.25,
                                            pad_token_id=0, num_labels=2, max_position_embeddings=256)
        hf = transformers.GPTNeoXForSequenceClassification(hf_cfg).eval()
        hf.load_state_dict(ours.state_dict(), strict=False)
        attack = AttackConfig("gcg", 3, TOKENS, CANDIDATES, TOP_K)
        row = {"hidden": hidden, "layers": layers, "parameters": sum(p.numel() for p in ours.parameters()),
               "examples": len(pairs), "iterations": 3}
        for name, model in (("anthology", ours), ("hf", HFClassifier(hf))):
            seconds = median_seconds(lambda m=model, a=attack: gcg(m, tokenizer, pairs, labels, a), repeats)
            row[name] = {"seconds": seconds, "iterations_per_sec": 3 * len(pairs) / seconds}
        row["ratio"] = row["anthology"]["iterations_per_sec"] / row["hf"]["iterations_per_sec"]
        out.append(row)
    return out


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(1)
    result = {"command": f"python benchmarks/gcg_speed.py {repeats}", "threads": 1, "repeats": repeats,
              "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                           "nanogcg": __import__("importlib.metadata").metadata.version("nanogcg")},
              "vs_nanogcg": against_nanogcg(repeats), "vs_hf_class": against_hf_class(repeats)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gcg_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    peer = result["vs_nanogcg"]
    lines = [f"# GCG speed (`{result['command']}`, one thread, median of {repeats})", "",
             f"## Against nanoGCG {result['versions']['nanogcg']}: {peer['model']} ({peer['parameters']:,} parameters), "
             f"{peer['prompt_tokens']} prompt tokens, {ITERATIONS} iterations, {CANDIDATES} candidates, top-{TOP_K}", "",
             "| run | seconds | iterations/s (per example) | candidates/s | vs nanoGCG (cache) |", "|---|---|---|---|---|"]
    base = peer["nanogcg_prefix_cache_True"]["candidates_per_sec"]
    for key in ("nanogcg_prefix_cache_True", "nanogcg_prefix_cache_False", "anthology_1_examples",
                "anthology_16_examples"):
        r = peer[key]
        lines.append(f"| {key} | {r['seconds']:.2f} | {r['iterations_per_sec']:.1f} | {r['candidates_per_sec']:.0f} | "
                     f"{r['candidates_per_sec'] / base:.2f}x |")
    lines += ["", "## The victim's implementation: anthology's GCG (16 examples, 3 iterations) on NeoXClassifier "
              "and on Hugging Face's GPTNeoXForSequenceClassification, same weights", "",
              "| hidden | layers | parameters | anthology it/s | Hugging Face it/s | ratio |", "|---|---|---|---|---|---|"]
    for r in result["vs_hf_class"]:
        lines.append(f"| {r['hidden']} | {r['layers']} | {r['parameters']:,} | {r['anthology']['iterations_per_sec']:.1f} | "
                     f"{r['hf']['iterations_per_sec']:.1f} | {r['ratio']:.2f}x |")
    (OUT / "gcg_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
