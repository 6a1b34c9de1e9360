"""Dead units are found and removed without changing the function; the optimiser's state follows the removal."""

import copy

import pytest
import torch

from anthology.vision.models import MLP, ResNet18, SmallCNN, count_parameters, count_units, unit_layers
from anthology.vision.pruning import dead_units, remove_units, unit_activity

CASES = {
    "mlp": (lambda: MLP((1, 8, 8), (24, 16), 10), (1, 8, 8)),
    "cnn_bn": (lambda: SmallCNN((1, 16, 16), (6, 8), 12, 10, batch_norm=True), (1, 16, 16)),
    "resnet": (lambda: ResNet18((3, 16, 16), 10, width=4), (3, 16, 16)),
}


def kill(model, every=3):
    """Force every `every`-th unit of each unit layer dead: its pre-activation is very negative on any input."""
    with torch.no_grad():
        for layer in unit_layers(model):
            dead = torch.arange(0, layer.producer.weight.shape[0], every)
            if isinstance(layer.norm, torch.nn.Identity):
                layer.producer.weight[dead] = 0.0
                layer.producer.bias[dead] = -10.0
            else:
                layer.norm.weight[dead] = 0.0
                layer.norm.bias[dead] = -10.0


def forced(model, every=3):
    return [torch.arange(0, layer.producer.weight.shape[0], every) for layer in unit_layers(model)]


def make(name, seed=0):
    torch.manual_seed(seed)
    build, shape = CASES[name]
    model = build()
    x = torch.randn(16, *shape)
    model.train()
    model(x)  # BatchNorm running statistics
    kill(model)
    model.eval()
    return model, x


@pytest.mark.parametrize("name", list(CASES))
def test_forced_dead_units_are_found_and_no_live_unit_is(name):
    model, x = make(name)
    dead = dead_units(unit_activity(model, [x]))
    for layer, idx in zip(unit_layers(model), dead, strict=True):
        forced = set(range(0, layer.producer.weight.shape[0], 3))
        assert set(idx.tolist()) >= forced
    # a unit that fires on one input of the sweep is live
    fresh = CASES[name][0]()
    assert all(len(d) < layer.producer.weight.shape[0] for d, layer in zip(dead_units(unit_activity(fresh, [x])),
                                                                          unit_layers(fresh), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_removing_dead_units_leaves_the_logits_unchanged_and_shrinks_the_network(name):
    model, x = make(name)
    before, units, params = model(x).detach(), count_units(model), count_parameters(model)
    removed = remove_units(model, dead_units(unit_activity(model, [x])), x[:2])
    assert sum(map(len, removed)) > 0
    assert count_units(model) == units - sum(map(len, removed)) and count_parameters(model) < params
    torch.testing.assert_close(model(x), before, atol=1e-6, rtol=0)


def test_a_layer_keeps_one_unit_when_all_are_dead():
    model, x = make("mlp")
    first = unit_layers(model)[0]
    everything = torch.arange(first.producer.weight.shape[0])
    remove_units(model, [everything, torch.tensor([], dtype=torch.long)], x[:2])
    assert first.producer.weight.shape[0] == 1 and model(x).shape == (16, 10)


def trained(name, optimizer_cls, **kwargs):
    model, x = make(name)
    y = torch.randint(0, 10, (16,), generator=torch.Generator().manual_seed(0))
    optimizer = optimizer_cls(model.parameters(), **kwargs)
    for _ in range(3):  # optimiser state that is not zero
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    twin = copy.deepcopy(model)
    twin_optimizer = optimizer_cls(twin.parameters(), **kwargs)
    twin_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # load_state_dict shares the tensors
    return model, optimizer, twin, twin_optimizer, x, y


@pytest.mark.parametrize("name", ["mlp", "cnn_bn"])
def test_adam_moments_are_sliced_with_their_parameters(name):
    model, optimizer, twin, twin_optimizer, x, _ = trained(name, torch.optim.Adam, lr=1e-2)
    dead = dead_units(unit_activity(model, [x]))
    remove_units(model, dead, x[:2], optimizer)
    params = [q for group in optimizer.param_groups for q in group["params"]]
    assert {id(p) for p in model.parameters()} == {id(q) for q in params}
    kept = [sorted(set(range(layer.producer.weight.shape[0] + len(d))) - set(d.tolist()))
            for layer, d in zip(unit_layers(model), dead, strict=True)]
    first = unit_layers(model)[0].producer.weight
    twin_first = unit_layers(twin)[0].producer.weight
    for key in ("exp_avg", "exp_avg_sq"):
        assert optimizer.state[first][key].shape == first.shape
        torch.testing.assert_close(optimizer.state[first][key], twin_optimizer.state[twin_first][key][kept[0]],
                                   atol=0, rtol=0)
    for p in params:
        assert optimizer.state[p]["exp_avg"].shape == p.shape == optimizer.state[p]["exp_avg_sq"].shape


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("name", ["mlp", "cnn_bn"])
def test_training_continues_as_the_unpruned_model_restricted_to_live_units(name, optimizer):
    """After the removal, the pruned model follows the unpruned one step for step: dead units get no gradient
    and contribute nothing, and live parameters keep their optimiser state."""
    cls, kwargs = (torch.optim.Adam, {"lr": 1e-2}) if optimizer == "adam" else (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9})
    model, optimizer, twin, twin_optimizer, x, y = trained(name, cls, **kwargs)
    # the forced units, dead from the start (no gradient, no momentum: they stay dead in the twin); a unit that
    # merely is dead on x now may still carry momentum and revive in the twin
    remove_units(model, forced(model), x[:2], optimizer)
    for net, opt in ((model, optimizer), (twin, twin_optimizer)):
        net.eval()  # the same normalisation in both (BatchNorm's running statistics)
        for _ in range(5):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    torch.testing.assert_close(model(x), twin(x), atol=1e-5, rtol=1e-5)


def test_the_sweep_covers_every_input():
    """Dead means zero on every input swept, across batches: the first layer's dead set equals the units whose
    ReLU output is zero on all of x, computed by hand."""
    model, x = make("mlp")
    first = unit_layers(model)[0].producer
    by_hand = torch.relu(x.flatten(1) @ first.weight.T + first.bias).sum(0) <= 0
    dead = dead_units(unit_activity(model, [x[:8], x[8:]]))[0]
    assert set(dead.tolist()) == set(torch.nonzero(by_hand).flatten().tolist())
    assert 0 < len(dead) < first.weight.shape[0]
