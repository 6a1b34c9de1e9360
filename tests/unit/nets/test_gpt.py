"""The small causal transformer: one pass equals token-by-token with the cache, causality, and gradients
that flow through cached keys and values."""

import pytest
import torch

from anthology.nets.gpt import GPT, GPTConfig


def _model(**changes):
    torch.manual_seed(0)
    return GPT(GPTConfig(width=12, layers=2, heads=3, dropout=0.0, max_tokens=16, **changes)).eval()


def test_the_cached_token_by_token_pass_equals_the_whole_sequence_pass():
    model, x = _model(), torch.randn(3, 9, 12)
    whole, _ = model(x)
    cache, steps = None, []
    for t in range(9):
        h, cache = model(x[:, t:t + 1], cache)
        steps.append(h)
    assert torch.allclose(whole, torch.cat(steps, dim=1), atol=1e-5)
    # and a prefix pass followed by the rest in one chunk
    head, cache = model(x[:, :4])
    tail, _ = model(x[:, 4:], cache)
    assert torch.allclose(whole, torch.cat([head, tail], dim=1), atol=1e-5)


def test_an_output_does_not_depend_on_later_tokens():
    model, x = _model(), torch.randn(2, 8, 12)
    changed = x.clone()
    changed[:, 5:] = torch.randn(2, 3, 12)
    a, _ = model(x)
    b, _ = model(changed)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6)
    assert not torch.allclose(a[:, 5:], b[:, 5:], atol=1e-3)


def test_gradients_of_a_late_output_reach_an_early_token_through_the_cache():
    model = _model()
    first = torch.randn(1, 1, 12, requires_grad=True)
    _, cache = model(first)
    late, _ = model(torch.randn(1, 1, 12), cache)
    (late * torch.randn(1, 1, 12)).sum().backward()  # (a plain sum of a layer-normed output is constant)
    assert first.grad is not None and first.grad.abs().sum() > 0


def test_too_long_a_sequence_is_refused():
    with pytest.raises(ValueError, match="max_tokens"):
        _model()(torch.randn(1, 17, 12))
