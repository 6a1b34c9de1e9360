"""Causal LMs from transformers classes: causal mask, the Mixtral merge, Rewarded Soups, sampling."""

import pytest

pytest.importorskip("transformers", reason="the llm extra is installed by make test")

import torch

from anthology.nets.causal_lm import (
    LMConfig,
    continuation_mask,
    interpolate_mlps,
    make_llama,
    merge_into_mixtral,
    mlp_parameters,
    router_parameters,
    sample,
    sequence_log_probs,
)

CFG = LMConfig(hidden=16, layers=2, heads=2, intermediate=32, max_length=32)
VOCAB, PAD, BOS, EOS = 20, 0, 1, 2


def llama(seed):
    torch.manual_seed(seed)
    return make_llama(CFG, VOCAB, PAD, BOS, EOS).eval()


def expert_of(base, seed):
    """A copy of base with perturbed MLP blocks (what an expert fine-tune changes)."""
    import copy

    expert = copy.deepcopy(base)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in mlp_parameters(expert):
            p.add_(torch.randn(p.shape, generator=generator) * 0.1)
    return expert


@pytest.fixture(scope="module")
def models():
    base = llama(0)
    experts = [expert_of(base, 1), expert_of(base, 2), expert_of(base, 3)]
    router = [torch.randn(3, CFG.hidden, generator=torch.Generator().manual_seed(4)) for _ in range(CFG.layers)]
    return base, experts, merge_into_mixtral(base, experts, router).eval()


def test_later_tokens_never_change_earlier_logits(models):
    base, _, moe = models
    x = torch.randint(3, VOCAB, (2, 12), generator=torch.Generator().manual_seed(0))
    y = x.clone()
    y[:, 7:] = torch.randint(3, VOCAB, (2, 5), generator=torch.Generator().manual_seed(1))
    for model in (base, moe):
        with torch.no_grad():
            a, b = model(input_ids=x).logits, model(input_ids=y).logits
        torch.testing.assert_close(a[:, :7], b[:, :7], rtol=0, atol=1e-6)
        assert (a[:, 7:] - b[:, 7:]).abs().max() > 1e-3


def test_router_gates_are_a_dense_softmax_summing_to_one(models):
    _, _, moe = models
    assert moe.config.num_experts_per_tok == moe.config.num_local_experts == 3
    h = torch.randn(10, CFG.hidden)
    for layer in moe.model.layers:
        logits, gates, experts = layer.mlp.gate(h)
        assert gates.shape == (10, 3)
        torch.testing.assert_close(gates.sum(-1), torch.ones(10))
        torch.testing.assert_close(gates, torch.softmax(logits, -1).gather(1, experts))


@pytest.mark.parametrize("k", [0, 1, 2])
def test_one_hot_routing_reproduces_the_expert(models, monkeypatch, k):
    _, experts, moe = models
    for layer in moe.model.layers:
        def one_hot(hidden, k=k):
            n = hidden.reshape(-1, CFG.hidden).shape[0]
            return torch.zeros(n, 3), torch.eye(3)[[k] * n], torch.arange(3).expand(n, 3)
        monkeypatch.setattr(layer.mlp.gate, "forward", one_hot)
    x = torch.randint(3, VOCAB, (3, 10), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        # fused [W_gate; W_up] in Mixtral vs two Linear layers in Llama: equal up to float rounding
        torch.testing.assert_close(moe(input_ids=x).logits, experts[k](input_ids=x).logits, rtol=1e-5, atol=1e-5)
        assert (moe(input_ids=x).logits - experts[(k + 1) % 3](input_ids=x).logits).abs().max() > 1e-3


def test_merge_takes_attention_from_the_base_and_only_gates_are_router_parameters(models):
    base, _, moe = models
    for a, b in zip(base.model.layers, moe.model.layers, strict=True):
        torch.testing.assert_close(a.self_attn.q_proj.weight, b.self_attn.q_proj.weight, rtol=0, atol=0)
    assert [p.shape for p in router_parameters(moe)] == [torch.Size([3, CFG.hidden])] * CFG.layers


def test_rewarded_soups_interpolates_mlps_and_recovers_each_expert(models):
    _, experts, _ = models
    x = torch.randint(3, VOCAB, (2, 8), generator=torch.Generator().manual_seed(6))
    soup = interpolate_mlps(experts, [0.0, 1.0, 0.0])
    with torch.no_grad():
        torch.testing.assert_close(soup(input_ids=x).logits, experts[1](input_ids=x).logits)
    half = interpolate_mlps(experts, [0.5, 0.5, 0.0])
    for p, a, b in zip(mlp_parameters(half), mlp_parameters(experts[0]), mlp_parameters(experts[1]), strict=True):
        torch.testing.assert_close(p, (a + b) / 2)


def test_sampling_stops_at_eos_and_log_probs_match_a_full_forward(models):
    base, _, _ = models
    prompt = torch.full((6, 1), BOS)
    tokens = sample(base, prompt, 10, EOS, PAD, torch.Generator().manual_seed(0))
    again = sample(base, prompt, 10, EOS, PAD, torch.Generator().manual_seed(0))
    assert torch.equal(tokens, again)
    mask = continuation_mask(tokens, EOS)
    for row, m in zip(tokens.tolist(), mask.tolist(), strict=True):
        if EOS in row:
            end = row.index(EOS)
            assert all(t == PAD for t in row[end + 1:]) and m[:end + 1] == [1.0] * (end + 1) and not any(m[end + 1:])
    log_probs = sequence_log_probs(base, prompt, tokens, mask)
    with torch.no_grad():
        full = torch.log_softmax(base(input_ids=torch.cat([prompt, tokens[:, :3]], 1)).logits, -1)
    expected = full[torch.arange(6), 0, tokens[:, 0]]  # the first sampled token, from the prompt alone
    torch.testing.assert_close(log_probs[:, 0], expected, rtol=1e-5, atol=1e-5)


def test_log_probs_are_those_of_the_sampling_distribution_at_temperature_and_top_p(models):
    # one-token continuations drawn 20k times at T 0.7, top-p 0.9: each token's frequency is exp(log_prob)
    # (sampling error <= 0.0035 per token); at T 1 without top-p (the old scoring) the sampled tokens' total
    # probability was below 1 by the pruned tail and each kept token's probability off by its renormalisation
    base, _, _ = models
    n = 20_000
    prompt = torch.full((n, 1), BOS)
    tokens = sample(base, prompt, 1, EOS, PAD, torch.Generator().manual_seed(0), temperature=0.7, top_p=0.9)
    with torch.no_grad():
        log_probs = sequence_log_probs(base, prompt[:1].expand(VOCAB, 1), torch.arange(VOCAB)[:, None],
                                       torch.ones(VOCAB, 1), temperature=0.7, top_p=0.9)[:, 0]
    frequency = torch.bincount(tokens[:, 0], minlength=VOCAB).double() / n
    torch.testing.assert_close(log_probs.exp().double(), frequency, atol=0.012, rtol=0)
    assert float(log_probs.exp().sum()) == pytest.approx(1.0, abs=1e-5)
    assert torch.isinf(log_probs[frequency == 0]).all() and (frequency == 0).any()  # the pruned tail


def test_top_p_keeps_only_the_nucleus():
    from anthology.nets.causal_lm import _top_p_filter

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(_top_p_filter(logits, 0.7))
    assert kept.tolist() == [[True, True, False, False]]
    assert torch.isfinite(_top_p_filter(logits, 1.0)).all()


def test_fit_lm_learns_the_continuation_and_not_the_prompt():
    """Rows [BOS, 5, 6 | 7, 8, EOS]: the loss covers 7, 8, EOS only, and training makes them near-certain."""
    from anthology.nets.causal_lm import fit_lm, pad_batch

    model = llama(0)
    rows, starts = [[BOS, 5, 6, 7, 8, EOS]] * 16, [3] * 16
    ids, attention, loss_mask = pad_batch([*rows[:2], [BOS, 7, EOS]], [*starts[:2], 1], PAD)
    assert loss_mask.tolist()[0] == [0, 0, 0, 1, 1, 1] and loss_mask.tolist()[2] == [0, 1, 1, 0, 0, 0]
    assert ids.tolist()[2] == [BOS, 7, EOS, PAD, PAD, PAD] and attention.tolist()[2] == [1, 1, 1, 0, 0, 0]
    calls = []
    fit_lm(model, rows, starts, PAD, epochs=20, lr=1e-2, batch_size=8, warmup_steps=2,
           generator=torch.Generator().manual_seed(0), after_step=lambda: calls.append(1))
    assert len(calls) == 40  # 20 epochs of 2 batches
    with torch.no_grad():
        log_p = sequence_log_probs(model, torch.tensor([[BOS, 5, 6]]), torch.tensor([[7, 8, EOS]]), torch.ones(1, 3))
        prompt = sequence_log_probs(model, torch.tensor([[BOS]]), torch.tensor([[5, 6]]), torch.ones(1, 2))
    # torch seeds 0..4: continuation log-probability -0.57..-0.39 (lr 1e-5: -9.2..-8.7); the prompt's tokens,
    # never a target, -11.4..-9.3 (a loss on the whole row would make them as likely as the continuation)
    assert float(log_p.sum()) > -1.5 and float(prompt.sum()) < -3.0, (float(log_p.sum()), float(prompt.sum()))
