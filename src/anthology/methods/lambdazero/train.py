"""One LambdaZero run: a molecule-search strategy against an oracle at a fixed budget of oracle calls.

The loop only: the strategies' rounds are in `strategies.py`, the labels, constraints and proxy in
`search.py`, the policy in `networks.py`."""

from __future__ import annotations

import time

import torch

from anthology.chem.fragment_graph import FragmentGraphs
from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import require_cpu
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir, write_json
from anthology.core.seeding import seed_everything
from anthology.tracking import Tracker, make_tracker

from .config import Config
from .networks import FragmentActorCritic
from .search import Label, Search, make_mdp, make_oracle
from .strategies import STRATEGIES, Learner, Screen, seed_round

LABELS_FILE = "labels.json"


def train(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    """LambdaZero (Korablyov et al., "Generative active learning for the search of small-molecule protein
    binders", 2024) and its baselines, at a fixed budget of oracle calls.

    LambdaZero trains a policy (PPO; an MPNN over the atom graph) to build molecules from fragments, block
    by block. Its reward is not the oracle (docking) but a cheap proxy refit on every label so far:
    R(x) = elu2((UCB(x) - shift) / scale) * c_QED(x) * c_SA(x), with UCB = mu + kappa * sigma over a
    bootstrap ensemble. Each round it proposes `proposals_per_round` molecules, sends the top
    `acquire_per_round` by UCB * discount to the oracle and refits the proxy. The baselines spend the
    same budget on random fragment molecules (screen_fragments), random MOSES molecules (screen_moses),
    random molecules filtered by the same acquisition (random_policy_al) or on PPO rewarded by the
    oracle itself (rl_oracle). Runs checkpoint after every round; oracle results are cached in SQLite.

    CLI: `anthology train lambdazero --preset demo --strategy screen_fragments`.
    Left out: the 464-block library (we use the 105-block one), episodes that start from a random
    3-block molecule, and the Chemprop synthesisability model (RDKit SA instead).
    """
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    require_cpu(cfg.device, "lambdazero", "fragment graphs are built on the CPU and a 64-wide MPNN gains nothing on a GPU")
    mdp = make_mdp(cfg.mdp, cfg.oracle.data_dir)
    oracle = make_oracle(cfg.oracle, run_dir)
    search, screen, strategy = Search(cfg, mdp, oracle), Screen(cfg, mdp), STRATEGIES[cfg.strategy]
    policy = FragmentActorCritic(mdp, cfg.hidden, cfg.mp_steps)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    learner = Learner(policy, optimizer, FragmentGraphs(mdp), torch.Generator().manual_seed(cfg.seed))
    curve: list[dict[str, float]] = []
    round_index, episodes_seen = 0, 0
    stateful = {"policy": policy, "optimizer": optimizer}
    if run_dir is not None:
        run_dir.write_config(cfg, "lambdazero", "custom")
        if run_dir.has_checkpoint():
            round_index, extra = load_training_state(run_dir.checkpoint_path, stateful, learner.generator)
            curve, episodes_seen = extra["curve"], extra["episodes"]
            search.restore([Label.from_json(r) for r in extra["labels"]])
            screen.restore(extra["screen"])
    tracker.start(cfg.budget, search.calls, f"{cfg.strategy} ({cfg.oracle.kind})")
    while search.remaining > 0:
        tick = time.perf_counter()
        if round_index == 0:  # the seed set: the first molecules of the random stream
            info = seed_round(cfg, search, learner, screen, round_index)
        else:
            info = strategy.round(cfg, search, learner, screen, round_index)
            episodes_seen += strategy.episodes_per_round(cfg)
        record = search.record(round_index, time.perf_counter() - tick)
        record["train/episodes"] = episodes_seen
        curve.append(record)
        tracker.log(search.calls, {k: v for k, v in record.items() if k != "step"} | info)
        round_index += 1
        if run_dir is not None and search.remaining > 0:
            save_training_state(run_dir.checkpoint_path, round_index, stateful, learner.generator,
                                {"curve": curve, "labels": [r.to_json() for r in search.labels],
                                 "episodes": episodes_seen, "screen": screen.state()})
    summary = search.summary(curve)
    tracker.close()
    labels = [r.to_json() for r in search.labels]
    if run_dir is not None:
        run_dir.write_curve(curve)
        write_json(run_dir.path / LABELS_FILE, labels)
        run_dir.write_summary(summary)
    oracle.cache.close()
    return TrainResult(summary, curve, {"labels": labels})


def load_curve(run_dir: RunDir) -> list[dict[str, float]]:
    return run_dir.read_curve()
