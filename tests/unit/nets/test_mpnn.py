import copy

import torch

from anthology.nets.mpnn import MPNN, distinct_rows


def test_distinct_rows_matches_torch_unique():
    g = torch.Generator().manual_seed(0)
    features = torch.randint(0, 3, (200, 4), generator=g).float()
    rows, inverse = distinct_rows(features)
    torch.testing.assert_close(rows[inverse], features)
    assert len(rows) == len(torch.unique(features, dim=0))


def test_distinct_rows_of_continuous_features_falls_back_exactly():
    features = torch.randn(100, 8, generator=torch.Generator().manual_seed(1))
    rows, inverse = distinct_rows(features)
    torch.testing.assert_close(rows[inverse], features)


def test_the_shared_edge_matrices_give_nnconvs_sum():
    """One round equals torch-geometric's NNConv (edge network per edge, mean aggregation) with the same
    weights, on a random multigraph with bond-type one-hots and zero self-loop features."""
    from torch_geometric.nn import NNConv

    torch.manual_seed(0)
    net = MPNN(in_features=5, hidden=8, edge_features=4, edge_hidden=16, steps=1)
    x = torch.randn(30, 8)
    edge_index = torch.randint(0, 30, (2, 70))
    edge_attr = torch.cat([torch.nn.functional.one_hot(torch.randint(0, 4, (60,)), 4).float(), torch.zeros(10, 4)])
    edge_net = copy.deepcopy(net.edge_net)
    reference = NNConv(8, 8, edge_net, aggr="mean")  # re-initialises edge_net: load ours again
    with torch.no_grad():
        edge_net.load_state_dict(net.edge_net.state_dict())
        reference.lin.weight.copy_(net.root.weight), reference.bias.copy_(net.root.bias)
    ours = net.convolve(x, net.edge_plan(edge_index, edge_attr))
    torch.testing.assert_close(ours, reference(x, edge_index, edge_attr), rtol=1e-5, atol=1e-5)


def test_graph_embeddings_do_not_depend_on_the_order_of_the_graphs():
    torch.manual_seed(0)
    net = MPNN(in_features=5, hidden=8, edge_features=4, edge_hidden=16, steps=3)
    x = torch.randn(6, 5)
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
    edge_attr = torch.eye(4)[[0, 0, 1, 1, 3, 3]]
    _, g = net(x, edge_index, edge_attr, torch.tensor([0, 0, 0, 1, 1, 1]), 2)
    perm = torch.tensor([3, 4, 5, 0, 1, 2])  # swap the two graphs
    inverse = torch.argsort(perm)
    _, swapped = net(x[perm], inverse[edge_index], edge_attr, torch.tensor([0, 0, 0, 1, 1, 1]), 2)
    torch.testing.assert_close(g, swapped.flip(0), rtol=1e-5, atol=1e-6)
