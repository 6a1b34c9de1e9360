"""`nets.mpnn.MPNN` against torch-geometric's `NNConv` with the same weights, side by side in one process:
scoring MOSES molecules with the 2021 sEH proxy (12 rounds, no gradient) and LambdaZero's policy trunk on a
batch of random fragment molecules (4 rounds, forward and backward). `NNConv` evaluates the edge network and
one [hidden, hidden] matrix product per edge in every round; `MPNN` evaluates the edge network once per
distinct bond type and multiplies each node state by those few matrices. Both give the same numbers (the
largest difference is reported). Writes results/benchmarks/mpnn.{json,md}.

    ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/mpnn.py [REPEATS]
"""

from __future__ import annotations

import copy
import json
import pathlib
import random
import sys

import torch
from torch.nn import functional as F
from torch_geometric.nn import NNConv

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from anthology.chem.data import data_file, moses_smiles
from anthology.chem.fragment_graph import FragmentGraphs
from anthology.chem.scoring import to_mol
from anthology.chem.seh_proxy import SEHProxy, featurize
from anthology.methods.lambdazero.config import MDPConfig
from anthology.methods.lambdazero.search import make_mdp, random_molecule
from anthology.nets.mpnn import MPNN
from timing import median_seconds

OUT = pathlib.Path(__file__).parents[1] / "results" / "benchmarks"


def peer_conv(net: MPNN) -> NNConv:
    """torch-geometric's NNConv carrying a copy of the trunk's edge network and its root weights."""
    edge_net = copy.deepcopy(net.edge_net)
    conv = NNConv(net.hidden, net.hidden, edge_net, aggr="mean")  # re-initialises the network it is given
    edge_net.load_state_dict(net.edge_net.state_dict())
    conv.lin.weight, conv.bias = net.root.weight, net.root.bias
    return conv


def nnconv_nodes(net: MPNN, conv: NNConv, x: torch.Tensor, edge_index: torch.Tensor,
                 edge_attr: torch.Tensor) -> torch.Tensor:
    """The same trunk with the peer's convolution (the edge network runs over every edge, every round)."""
    out = F.leaky_relu(net.embed(x))
    h = out[None]
    for _ in range(net.steps):
        out, h = net.gru(F.leaky_relu(conv(out, edge_index, edge_attr))[None], h)
        out = out[0]
    return out


def batch_of(mols: list) -> tuple[torch.Tensor, ...]:
    graphs = [featurize(m) for m in mols]
    offsets = torch.tensor([0] + [g[0].shape[0] for g in graphs]).cumsum(0)
    return (torch.cat([g[0] for g in graphs]), torch.cat([g[1] + o for g, o in zip(graphs, offsets)], 1),
            torch.cat([g[2] for g in graphs]))


def main(repeats: int = 5) -> None:
    torch.set_num_threads(2)
    rows = []
    proxy = SEHProxy.from_npz(data_file("seh/seh_proxy_2021_params.npz"))
    x, edge_index, edge_attr = batch_of([to_mol(s) for s in moses_smiles("test")[:256]])
    conv = peer_conv(proxy.mpnn)
    with torch.no_grad():
        diff = float((proxy.mpnn.nodes(x, edge_index, edge_attr) - nnconv_nodes(proxy.mpnn, conv, x, edge_index,
                                                                                edge_attr)).abs().max())
        ours = median_seconds(lambda: proxy.mpnn.nodes(x, edge_index, edge_attr), repeats)
        peer = median_seconds(lambda: nnconv_nodes(proxy.mpnn, conv, x, edge_index, edge_attr), repeats)
    rows.append({"what": f"sEH proxy trunk, 256 MOSES molecules ({x.shape[0]} atoms, {edge_index.shape[1]} edges), "
                 "12 rounds, no gradient", "mpnn_s": ours, "nnconv_s": peer, "max_abs_diff": diff})

    mdp = make_mdp(MDPConfig())
    rng = random.Random(0)
    graphs = FragmentGraphs(mdp)([random_molecule(mdp, rng) for _ in range(256)])
    torch.manual_seed(0)
    trunk = MPNN(x.shape[1], 64, 4, 32, 4)
    conv = peer_conv(trunk)

    def backward(nodes_fn):
        def run():
            trunk.zero_grad()
            conv.zero_grad()
            nodes_fn(graphs.x, graphs.edge_index, graphs.edge_attr).square().mean().backward()
        return run

    def peer(*graph):
        return nnconv_nodes(trunk, conv, *graph)

    with torch.no_grad():
        diff = float((trunk.nodes(graphs.x, graphs.edge_index, graphs.edge_attr)
                      - peer(graphs.x, graphs.edge_index, graphs.edge_attr)).abs().max())
    ours = median_seconds(backward(trunk.nodes), repeats)
    peer_seconds = median_seconds(backward(peer), repeats)
    rows.append({"what": f"LambdaZero policy trunk, 256 fragment molecules ({graphs.x.shape[0]} atoms, "
                 f"{graphs.edge_index.shape[1]} edges), 4 rounds, forward + backward", "mpnn_s": ours,
                 "nnconv_s": peer_seconds, "max_abs_diff": diff})
    command = f"ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/mpnn.py {repeats}"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "mpnn.json").write_text(json.dumps({"command": command, "torch_threads": 2, "repeats": repeats,
                                               "rows": rows}, indent=2) + "\n")
    lines = ["# MPNN trunk: `nets.mpnn.MPNN` against torch-geometric's `NNConv` (2-core machine, no GPU)", "",
             f"Command: `{command}`. Median of {repeats} timed calls after one warm-up, same weights.", "",
             "| what | MPNN (s) | NNConv (s) | NNConv / MPNN | largest difference |", "|---|---|---|---|---|"]
    lines += [f"| {r['what']} | {r['mpnn_s']:.3f} | {r['nnconv_s']:.3f} | {r['nnconv_s'] / r['mpnn_s']:.1f}x | "
              f"{r['max_abs_diff']:.1e} |" for r in rows]
    (OUT / "mpnn.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
