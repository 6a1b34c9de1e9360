import torch

from anthology.nets.ensemble import EnsembleMLP


def test_each_member_is_an_independent_mlp_and_batched_equals_one_by_one():
    torch.manual_seed(0)
    net = EnsembleMLP(3, 5, (16, 16), 2)
    x = torch.randn(7, 5)
    out = net(x)  # [3, 7, 2]
    assert out.shape == (3, 7, 2)
    for e in range(3):
        torch.testing.assert_close(out[e], net.member(e, x))
    assert not torch.allclose(out[0], out[1])  # initialised independently


def test_members_see_their_own_inputs_and_gradients_stay_separate():
    torch.manual_seed(0)
    net = EnsembleMLP(2, 4, (8,), 1)
    x = torch.randn(2, 6, 4)
    net(x)[0].sum().backward()  # a loss on member 0 only
    for layer in net.layers:
        assert layer.weight.grad[0].abs().sum() > 0 and layer.weight.grad[1].abs().sum() == 0


def test_initialisation_matches_nn_linear_bounds():
    torch.manual_seed(0)
    net = EnsembleMLP(4, 100, (), 50)
    bound = 1 / 100**0.5
    layer = net.layers[0]
    assert float(layer.weight.detach().abs().max()) <= bound and float(layer.bias.detach().abs().max()) <= bound


def test_layer_norm_is_per_member_and_batched_equals_one_by_one():
    torch.manual_seed(0)
    net = EnsembleMLP(3, 5, (16, 16), 2, layer_norm=True)
    with torch.no_grad():  # distinct LayerNorm gains and shifts per member
        for norm in net.norms:
            norm.weight.normal_()
            norm.bias.normal_()
    x = torch.randn(7, 5)
    out = net(x)
    for e in range(3):
        torch.testing.assert_close(out[e], net.member(e, x))
    # a LayerNorm after the first linear layer makes each member invariant to scaling that layer
    with torch.no_grad():
        net.layers[0].weight[0] *= 10.0
        net.layers[0].bias[0] *= 10.0
    scaled = net(x)
    torch.testing.assert_close(scaled[0], out[0], rtol=1e-4, atol=1e-5)  # up to LayerNorm's eps = 1e-5
    with torch.no_grad():  # one member's LayerNorm gain moves that member's output only
        net.norms[1].weight[1] += 1.0
    moved = net(x)
    assert torch.equal(moved[0], scaled[0]) and not torch.allclose(moved[1], scaled[1])
    assert torch.equal(moved[2], scaled[2])
