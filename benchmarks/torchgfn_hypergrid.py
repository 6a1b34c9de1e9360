"""torchgfn half of the hypergrid GFlowNet benchmark: train torchgfn's TB GFlowNet and measure it.

`run_torchgfn` trains torchgfn (the reference library, 2.4.1) on its own `HyperGrid` environment with
trajectory balance and reports training throughput (wall clock of the training iterations only, one
torch thread) and a learning curve of the *exact* L1 distance between the sampler's terminal-state
distribution and R/Z, computed by a forward dynamic program over every grid state (no sampling noise).

torchgfn is not a dependency of anthology; run this with a separate environment:

    python3 -m venv .venv-bench && .venv-bench/bin/pip install torch==2.13.0 torchgfn==2.4.1
    .venv-bench/bin/python benchmarks/torchgfn_hypergrid.py      # short smoke runs, printed as JSON
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import random
import time

import torch
from gfn.estimators import DiscretePolicyEstimator
from gfn.gflownet import TBGFlowNet
from gfn.gym import HyperGrid
from gfn.preprocessors import KHotPreprocessor
from gfn.utils.modules import MLP

# Exact log partition functions of the original hypergrid reward (R0=0.1, R1=0.5, R2=2.0).
KNOWN_LOG_Z = {(2, 8): 3.1091, (4, 8): 6.3449}


def _torchgfn_version() -> str:
    try:
        import gfn

        return str(gfn.__version__)
    except AttributeError:
        return importlib.metadata.version("torchgfn")


def _all_states(ndim: int, height: int) -> torch.Tensor:
    """Every grid state, shape (height**ndim, ndim), row i being the state of canonical index i.

    The canonical index is sum_d s_d * height**(ndim - 1 - d) (first coordinate most significant),
    the same ordering as torchgfn's `HyperGrid.get_states_indices`.
    """
    axes = [torch.arange(height)] * ndim
    return torch.cartesian_prod(*axes).reshape(-1, ndim).long()


class _ExactEvaluator:
    """Exact terminal distribution and trajectory entropy of a hypergrid forward policy."""

    def __init__(self, env: HyperGrid) -> None:
        self.env = env
        ndim, height = env.ndim, env.height
        self.ndim = ndim
        states = _all_states(ndim, height)
        n = states.shape[0]
        assert n == env.n_states
        assert torch.equal(env.get_states_indices(states), torch.arange(n)), "state ordering mismatch"
        self.states = env.States(states)
        # Reward of every state, from the env's own log reward, in float64.
        log_r = env.log_reward(self.states).double()
        self.log_z = float(torch.logsumexp(log_r, dim=0))
        self.target = torch.exp(log_r - self.log_z)
        # Stride in canonical index of a +1 move along each dimension.
        self.strides = [height ** (ndim - 1 - d) for d in range(ndim)]
        # States grouped by coordinate sum: a +1 move always goes from level L to level L + 1.
        level = states.sum(-1)
        self.levels = [torch.nonzero(level == lv).squeeze(-1) for lv in range(int(level.max()) + 1)]

    @torch.no_grad()
    def __call__(self, pf: DiscretePolicyEstimator) -> tuple[float, float]:
        """Returns (L1 distance to R/Z, trajectory entropy in nats) of the policy `pf`."""
        was_training = pf.training
        pf.eval()
        # One batched forward pass over all states; the distribution applies the env's forward masks.
        dist = pf.to_probability_distribution(self.states, pf(self.states))
        pf.train(was_training)
        # (n_states, ndim + 1), renormalised in float64; masked actions (logit -inf) get probability 0.
        probs = torch.softmax(dist.logits.double(), dim=-1)
        masks = self.states.forward_masks
        entropy_per_state = torch.special.entr(probs).sum(-1)
        reach = torch.zeros(probs.shape[0], dtype=torch.float64)
        reach[0] = 1.0
        for idx in self.levels:
            r = reach[idx]
            for d, stride in enumerate(self.strides):
                ok = masks[idx, d]
                src = idx[ok]
                reach.index_add_(0, src + stride, r[ok] * probs[src, d])
        p_terminal = reach * probs[:, -1]
        l1 = float((p_terminal - self.target).abs().sum())
        entropy = float((reach * entropy_per_state).sum())
        return l1, entropy


def run_torchgfn(
    ndim: int,
    height: int,
    batch_size: int,
    iterations: int,
    eval_every: int,
    seed: int = 0,
    hidden: int = 256,
    n_hidden_layers: int = 2,
    lr: float = 1e-3,
    lr_logz: float = 0.1,
    l1_threshold: float | None = None,
) -> dict:
    """Train torchgfn's TB GFlowNet on its HyperGrid and measure throughput and exact L1 curve."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    random.seed(seed)

    env = HyperGrid(ndim, height, reward_fn_str="original", calculate_partition=True, store_all_states=True)
    preprocessor = KHotPreprocessor(height=height, ndim=ndim)
    pf_module = MLP(
        input_dim=preprocessor.output_dim,
        output_dim=env.n_actions,
        hidden_dim=hidden,
        n_hidden_layers=n_hidden_layers,
    )
    # The backward policy is a second output head on the forward policy's trunk (shared weights).
    pb_module = MLP(
        input_dim=preprocessor.output_dim,
        output_dim=env.n_actions - 1,
        hidden_dim=hidden,
        n_hidden_layers=n_hidden_layers,
        trunk=pf_module.trunk,
    )
    pf = DiscretePolicyEstimator(pf_module, env.n_actions, preprocessor=preprocessor, is_backward=False)
    pb = DiscretePolicyEstimator(pb_module, env.n_actions, preprocessor=preprocessor, is_backward=True)
    gflownet = TBGFlowNet(pf=pf, pb=pb, init_logZ=0.0)
    optimizer = torch.optim.Adam(
        [
            {"params": gflownet.pf_pb_parameters(), "lr": lr},
            {"params": gflownet.logz_parameters(), "lr": lr_logz},
        ]
    )
    n_params = sum(p.numel() for p in gflownet.parameters())
    n_grouped = sum(p.numel() for g in optimizer.param_groups for p in g["params"])
    assert n_params == n_grouped, "every parameter must be in exactly one optimizer group"

    evaluator = _ExactEvaluator(env)
    env_log_z = env.log_partition()
    assert env_log_z is not None and abs(env_log_z - evaluator.log_z) < 1e-6, (env_log_z, evaluator.log_z)

    curve: list[dict] = []
    train_seconds = 0.0
    trajectories_to_threshold = None
    for it in range(1, iterations + 1):
        t0 = time.perf_counter()
        trajectories = gflownet.sample_trajectories(env, n=batch_size, save_logprobs=True)
        optimizer.zero_grad()
        loss = gflownet.loss_from_trajectories(env, trajectories, recalculate_all_logprobs=False)
        loss.backward()
        optimizer.step()
        train_seconds += time.perf_counter() - t0

        if it % eval_every == 0 or it == iterations:
            l1, entropy = evaluator(pf)
            n_traj = it * batch_size
            curve.append(
                {"trajectories": n_traj, "l1": l1, "entropy": entropy, "log_z": float(gflownet.logZ.item())}
            )
            if trajectories_to_threshold is None and l1_threshold is not None and l1 < l1_threshold:
                trajectories_to_threshold = n_traj

    return {
        "library": "torchgfn",
        "version": _torchgfn_version(),
        "ndim": ndim,
        "height": height,
        "batch_size": batch_size,
        "iterations": iterations,
        "train_seconds": train_seconds,
        "trajectories_per_sec": iterations * batch_size / train_seconds,
        "curve": curve,
        "final_l1": curve[-1]["l1"] if curve else math.nan,
        "true_log_z": evaluator.log_z,
        "trajectories_to_threshold": trajectories_to_threshold,
    }


if __name__ == "__main__":
    for ndim, height in [(2, 8), (4, 8)]:
        for batch_size in [16, 256]:
            result = run_torchgfn(ndim, height, batch_size, iterations=200, eval_every=50, l1_threshold=0.5)
            expected = KNOWN_LOG_Z[(ndim, height)]
            assert abs(result["true_log_z"] - expected) < 1e-3, (result["true_log_z"], expected)
            print(json.dumps(result), flush=True)
