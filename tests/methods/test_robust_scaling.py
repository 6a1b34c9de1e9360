"""Robustness and scale: GCG and random token on a small trained victim, the retokenisation filter, the
success-rate denominator, FLOPs by hand, the attack schedule and the adversarial sampling weights."""

import itertools

import numpy as np
import pytest
import torch

from anthology.core.config import override
from anthology.methods.robust_scaling.attacks import (
    build_batch,
    candidate_mask,
    encode_parts,
    gcg,
    iterations_to,
    random_token,
    survives,
)
from anthology.methods.robust_scaling.config import PRESETS, AttackConfig
from anthology.methods.robust_scaling.train import (
    adversarial_indices,
    attack_texts,
    evaluate_attacks,
    schedule,
    train,
)
from anthology.text.neox import NeoXClassifier, NeoXConfig, count_parameters
from anthology.text.tasks import make_task
from anthology.text.tokenizer import CharTokenizer, train_bpe

VICTIM = override(PRESETS["tiny"], n_train=6000, n_val=200, hidden=32, layers=2, heads=4, epochs=3, batch_size=32,
                  rounds=0)


@pytest.fixture(scope="module")
def victim():
    """A WordLength classifier trained in about 15 s (seeds 0-2: 0.65-0.70 validation accuracy)."""
    result = train(VICTIM)
    return result.artifacts["model"], result.artifacts["tokenizer"], make_task("word_length", 6000, 200, 0)


def correct_examples(model, tokenizer, task, count):
    cfg = override(VICTIM, n_attack=count)
    chosen = []
    for e in task.validation:
        ids = torch.tensor([tokenizer.encode(e.text(instructions=False))])
        if int(model(ids).argmax()) == e.label:
            chosen.append(e)
        if len(chosen) == count:
            return chosen, cfg
    raise AssertionError("the victim classifies too few examples correctly")


def test_the_victim_learned_the_task(victim):
    model, tokenizer, task = victim
    record = evaluate_attacks(VICTIM, model, tokenizer, task, (), {})
    assert record["eval/accuracy"] > 0.6  # seeds 0-2: 0.650-0.705; the majority class is 0.55


def test_gcg_flips_an_example_within_a_few_iterations_and_lowers_the_proxy_loss(victim):
    model, tokenizer, task = victim
    examples, cfg = correct_examples(model, tokenizer, task, 5)
    labels = torch.tensor([e.label for e in examples])
    result = gcg(model, tokenizer, attack_texts(examples, cfg), labels,
                 AttackConfig("gcg", iterations=5, candidates=32, top_k=16))
    assert result.success[-1].sum() >= 1  # seeds 0-2: 3-5 of 5 flipped by iteration 5
    assert result.asr[0] == 0.0 and len(result.asr) == 6
    parts = encode_parts(tokenizer, attack_texts(examples, cfg))
    start = torch.tensor([tokenizer.encode("@&@&@&@&@&")] * 5)
    with torch.no_grad():
        def proxy_loss(attacks):
            batch = build_batch(tokenizer, parts, torch.tensor(attacks))
            return torch.nn.functional.cross_entropy(model(batch.ids, batch.lengths), 1 - labels)
        assert proxy_loss(result.attacks) < proxy_loss(start.tolist())


def test_random_token_success_is_cumulative_and_stops_per_example(victim):
    model, tokenizer, task = victim
    examples, cfg = correct_examples(model, tokenizer, task, 8)
    labels = torch.tensor([e.label for e in examples])
    result = random_token(model, tokenizer, attack_texts(examples, cfg), labels,
                          AttackConfig("random_token", iterations=30))
    asr = result.asr
    assert all(b >= a for a, b in itertools.pairwise(asr)) and asr[-1] > 0


def test_only_examples_classified_correctly_are_attacked_and_counted():
    tokenizer = CharTokenizer()
    model = NeoXClassifier(NeoXConfig(tokenizer.vocab_size, 16, 1, 2))
    torch.nn.init.zeros_(model.score.weight)  # always predicts label 0: exactly the label-0 examples are correct
    task = make_task("word_length", 10, 60, 0)
    cfg = override(VICTIM, n_attack=1000, random_token_iterations=5)
    record = evaluate_attacks(cfg, model, tokenizer, task, ("random_token",), {"random_token": 5})
    zeros = sum(e.label == 0 for e in task.validation)
    assert record["eval/attacked"] == zeros < len(task.validation)
    assert record["eval/random_token_asr"] == 0.0  # nothing flips a constant model; wrong examples are not counted
    assert record["eval/accuracy"] == pytest.approx(zeros / len(task.validation))


def test_the_retokenisation_filter_rejects_candidates_that_merge():
    texts = ["ab ab ab abab", "cab dab", "ab"] * 50
    tokenizer = train_bpe(texts, vocab_size=270)
    a, b, ab = (tokenizer.encode(s) for s in ("a", "b", "ab"))
    assert len(ab) == 1 and ab != a + b  # "ab" is one merged token
    parts = (tokenizer.encode("x:"), tokenizer.encode("\n"))
    assert not survives(tokenizer, parts, ("x:", "\n"), a + b)  # decodes to "ab", which encodes as one token
    assert survives(tokenizer, parts, ("x:", "\n"), ab + a)


class MergingTokenizer(CharTokenizer):
    """Characters, plus one token for "ab" that encoding always uses: "a" then "b" never survives."""

    lossless = False

    def __init__(self):
        super().__init__()
        self.ab = self.vocab_size
        self.vocab_size += 1

    def encode(self, text):
        out, i = [], 0
        while i < len(text):
            if text.startswith("ab", i):
                out.append(self.ab)
                i += 2
            else:
                out += super().encode(text[i])
                i += 1
        return out

    def decode(self, ids):
        return "".join("ab" if i == self.ab else CharTokenizer.decode(self, [i]) for i in ids)

    def attack_ids(self):
        return torch.tensor([*super().encode("ab"), self.ab])


def test_the_candidate_filter_drops_merging_and_unchanged_candidates():
    tokenizer = MergingTokenizer()
    a, b = tokenizer.encode("a")[0], tokenizer.encode("b")[0]
    pairs = [("x: ", "\n")]
    attack = torch.tensor([[a, a, a]])
    candidates = torch.tensor([[[b, a, a], [a, b, a], [a, a, b], [a, a, a], [a, a, tokenizer.ab]]])
    mask = candidate_mask(tokenizer, encode_parts(tokenizer, pairs), pairs, attack, candidates)
    assert mask.tolist() == [[True, False, False, False, True]]  # "ab" inside merges; no change is no candidate
    tokenizer.lossless = True  # a lossless tokenizer skips the check
    assert candidate_mask(tokenizer, encode_parts(tokenizer, pairs), pairs, attack, candidates).tolist() == [
        [True, True, True, False, True]]


def test_gcg_ends_on_attacks_that_survive_a_round_trip():
    tokenizer = MergingTokenizer()
    torch.manual_seed(0)
    model = NeoXClassifier(NeoXConfig(tokenizer.vocab_size, 16, 1, 2))
    pairs = [("x: ", "\n")] * 8
    result = gcg(model, tokenizer, pairs, torch.tensor([0, 1] * 4),
                 AttackConfig("gcg", iterations=20, tokens=4, candidates=16, top_k=3))
    assert all(survives(tokenizer, p, t, a)
               for p, t, a in zip(encode_parts(tokenizer, pairs), pairs, result.attacks, strict=True))


def test_flops_follow_the_formula_by_hand():
    tokenizer = CharTokenizer()
    model = NeoXClassifier(NeoXConfig(tokenizer.vocab_size, 16, 1, 2))
    n = count_parameters(model)
    assert n == 98 * 16 + (2 * 16 + 16 * 48 + 48 + 16 * 16 + 16) + 2 * 16 + (16 * 64 + 64 + 64 * 16 + 16) + 2 * 16 + 16 * 2
    pairs = [("abcd", "ef"), ("ghij", "kl")]  # equal lengths: no padding; 4 + 3 + 2 = 9 tokens a row
    result = gcg(model, tokenizer, pairs, torch.tensor([0, 1]), AttackConfig("gcg", iterations=1, tokens=3,
                                                                             candidates=5, top_k=4))
    # one gradient pass (forward 2NT + backward 4NT on 2 rows) and 5 candidates a row scored (forward)
    assert result.flops == 6 * n * 2 * 9 + 2 * n * 2 * 5 * 9
    rt = random_token(model, tokenizer, pairs, torch.tensor([0, 1]), AttackConfig("random_token", iterations=1,
                                                                                 tokens=3))
    assert rt.flops == 2 * n * 2 * 9


def test_iterations_to_a_success_rate_interpolate_linearly():
    assert iterations_to([0.0, 0.2, 0.6, 0.9], 0.5) == pytest.approx(1 + 0.3 / 0.4)
    assert iterations_to([0.0, 0.5, 0.7], 0.5) == 1.0
    assert iterations_to([0.0, 0.2, 0.3], 0.5) is None


def test_the_attack_schedule_grows_linearly_as_the_official_one():
    cfg = override(PRESETS["tiny"], rounds=10, schedule=(8, 64))
    assert schedule(cfg) == [8, 14, 20, 26, 32, 39, 45, 51, 57, 64]
    assert schedule(override(cfg, rounds=1)) == [8]


def test_adversarial_sampling_favours_recent_and_high_loss_examples():
    cfg = override(PRESETS["tiny"], sampling_decay=5.0, loss_rank_weight=0.0)
    losses = [1.0] * 10
    picks = [adversarial_indices(losses, 3, cfg, np.random.default_rng(s)) for s in range(5)]
    assert all(sorted(p) == [7, 8, 9] for p in picks)  # recency only, a sharp decay: the newest three
    cfg = override(cfg, loss_rank_weight=1.0)
    losses = [0.1, 5.0, 0.2, 4.0, 0.3, 3.0, 0.4, 0.5, 0.6, 0.7]
    assert sorted(adversarial_indices(losses, 3, cfg, np.random.default_rng(0))) == [1, 3, 5]
    assert sorted(adversarial_indices(losses, 3, override(cfg, loss_rank="argsort"),
                                      np.random.default_rng(0))) != [1, 3, 5]  # the official quirk differs


def test_a_pythia_folder_is_fine_tuned_and_attacked_with_its_own_tokenizer(tmp_path):
    """The `paper` path on a tiny random checkpoint: Hugging Face weights and tokenizer.json from a folder,
    the instructions kept, Adafactor; GCG runs the retokenisation filter with the BPE tokenizer."""
    transformers = pytest.importorskip("transformers")
    task = make_task("word_length", 40, 8, 0)
    bpe = train_bpe([e.text() for e in task.train] + ["@&@&"], vocab_size=300)
    bpe.tokenizer.save(str(tmp_path / "tokenizer.json"))
    torch.manual_seed(0)
    lm = transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(
        vocab_size=bpe.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=512))
    lm.save_pretrained(tmp_path, safe_serialization=True)
    cfg = override(PRESETS["tiny"], pretrained=str(tmp_path), instructions=True, optimizer="adafactor", lr=1e-3,
                   n_train=40, n_val=8, epochs=1, rounds=1, adv_examples=2, max_train_set=10)
    result = train(cfg)
    expected = sum(p.numel() for name, p in lm.named_parameters() if name.startswith("gpt_neox.")) + 16 * 2
    assert result.summary["params"] == expected  # the backbone loaded, the LM head dropped, a fresh score head
    assert isinstance(result.artifacts["tokenizer"], type(bpe)) and len(result.curve) == 2


def test_a_run_killed_between_adversarial_rounds_resumes_to_the_same_curve(tmp_path):
    """The optimiser's state travels with the checkpoint: a resume after round 1 continues bit for bit."""
    from anthology.core.run_dir import RunDir
    from anthology.testing.conformance import _KillAtLoggedStep
    from anthology.testing.fakes import SimulatedKill

    cfg = override(PRESETS["tiny"], rounds=3, schedule=(2, 3))
    whole = train(cfg, run_dir=RunDir.create("robust_scaling", "tiny", 0, tmp_path / "whole"))
    run = RunDir.create("robust_scaling", "tiny", 0, tmp_path / "killed")
    with pytest.raises(SimulatedKill):
        train(cfg, tracker=_KillAtLoggedStep(cfg.epochs + 2), run_dir=run)  # after round 1 was saved
    resumed = train(cfg, run_dir=run)
    assert resumed.curve == whole.curve and resumed.summary == whole.summary
    assert torch.equal(next(resumed.artifacts["model"].parameters()), next(whole.artifacts["model"].parameters()))
