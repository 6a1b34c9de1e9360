import pytest
import torch

from anthology.nets import Standardizer, make_mlp


def test_mlp_shapes_and_depth():
    net = make_mlp(3, (8, 8), 2)
    assert net(torch.zeros(5, 3)).shape == (5, 2)
    assert sum(isinstance(m, torch.nn.Linear) for m in net) == 3


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation"):
        make_mlp(1, (2,), 1, activation="swishy")


def test_standardizer_whitens_and_inverts():
    data = torch.randn(100, 4, 3) * torch.tensor([1.0, 10.0, 0.1]) + 5
    norm = Standardizer(3).fit(data)
    flat = norm(data).reshape(-1, 3)
    assert torch.allclose(flat.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(flat.std(0), torch.ones(3), atol=1e-4)
    assert torch.allclose(norm.inverse(norm(data)), data, atol=1e-4)
    assert not list(norm.parameters())
