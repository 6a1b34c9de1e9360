"""Train a GFlowNet (hypergrid or sEH fragment trees) with a chosen loss and backward policy, evaluated exactly."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import time

import numpy as np
import torch
from torch import nn

from anthology.chem.data import data_file
from anthology.chem.fragment_tree import FragmentTreeEnv, distinct_modes
from anthology.chem.fragments import FragmentMDP, load_blocks
from anthology.chem.oracles import ProxyOracle
from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import require_cpu
from anthology.core.errors import AnthologyError
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir, cache_root
from anthology.core.seeding import seed_everything
from anthology.envs.hypergrid import HyperGrid
from anthology.gfn.detailed_balance import detailed_balance_loss
from anthology.gfn.env import EnumerableDagEnv
from anthology.gfn.exact import (
    Graph,
    build_graph,
    exact_metrics,
    log_partition,
    log_pf_from_logits,
    reach_probabilities,
    sampled_l1,
    terminal_distribution,
)
from anthology.gfn.path_count import path_count_loss
from anthology.gfn.policy import NEG_INF, GFlowNetPolicy
from anthology.gfn.sampler import Scores, Trajectories, sample_trajectories, score_trajectories
from anthology.gfn.soft_q import soft_q_loss
from anthology.gfn.sub_trajectory_balance import sub_trajectory_balance_loss
from anthology.gfn.trajectory_balance import trajectory_balance_loss
from anthology.tracking import Tracker, make_tracker

from .config import Config, EnvConfig

SAMPLED_L1_SAMPLES = 20_000  # the secondary, sampled L1 (the exact one is the primary metric)


def make_env(cfg: EnvConfig) -> HyperGrid | FragmentTreeEnv:
    if cfg.kind == "fragments":
        return fragment_env(cfg)
    return HyperGrid(cfg.ndim, cfg.height, r0=cfg.r0, blocked=cfg.blocked, seed=cfg.seed)


def fragment_env(cfg: EnvConfig) -> FragmentTreeEnv:
    """The listed fragment trees with their sEH proxy rewards; built once (about a minute for 20k trees)
    and kept in the user cache, keyed by everything the tables depend on."""
    key = json.dumps({"blocks": cfg.blocks, "max_blocks": cfg.max_blocks, "beta": cfg.beta, "v": 2})
    path = cache_root() / f"fragment_tree-{hashlib.sha1(key.encode()).hexdigest()[:12]}.pkl"
    if path.is_file():
        with path.open("rb") as f:
            return pickle.load(f)
    library = load_blocks(data_file("fragments/blocks_PDB_105.json"))
    mdp = FragmentMDP([library[b] for b in cfg.blocks], max_blocks=cfg.max_blocks)
    oracle = ProxyOracle(str(data_file("seh/seh_proxy_2021_params.npz")))
    env = FragmentTreeEnv(mdp, lambda smiles: np.array([r.value for r in oracle.score(smiles)], dtype=float),
                          beta=cfg.beta)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with partial.open("wb") as f:
        pickle.dump(env, f)
    partial.replace(path)  # atomic: a concurrent reader never sees half a file
    return env


def check_config(cfg: Config) -> None:
    if cfg.algorithm == "soft_q" and cfg.backward == "free":
        raise AnthologyError("soft_q needs a fixed backward policy for its rewards; use --backward uniform, "
                             "maxent or maxent_learned")
    if cfg.algorithm == "soft_q" and cfg.soft_q_reward == "gsql" and cfg.backward != "maxent":
        raise AnthologyError("gsql telescopes the max-ent P_B's rewards into -log n(x); use --backward maxent")
    if cfg.backward == "maxent" and cfg.env.blocked > 0:
        raise AnthologyError("with blocked cells n(s) has no closed form; use --backward maxent_learned")


def gflownet_loss(cfg: Config, log_z: torch.Tensor, trajs: Trajectories, scores: Scores,
                  target: GFlowNetPolicy | None, env: EnumerableDagEnv) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The configured GFlowNet loss (+ the n-loss for a learned max-ent P_B)."""
    log_pb = scores.log_pb.detach() if cfg.backward == "maxent_learned" else scores.log_pb
    if cfg.algorithm == "tb":
        loss, info = trajectory_balance_loss(log_z, scores.log_pf, log_pb, trajs.log_reward.float())
    elif cfg.algorithm == "db":
        loss, info = detailed_balance_loss(scores.log_flow, scores.log_pf, log_pb, trajs.log_reward.float(),
                                           trajs.valid, trajs.is_exit)
    elif cfg.algorithm == "subtb":
        loss, info = sub_trajectory_balance_loss(log_z, scores.log_flow, scores.log_pf, log_pb,
                                                 trajs.log_reward.float(), trajs.lengths, cfg.subtb_lambda)
    else:
        assert target is not None
        steps, batch = trajs.actions.shape
        flat = trajs.states.reshape((steps + 1) * batch, -1)
        with torch.no_grad():
            target_q = target(env.to_input(flat)).forward_logits.reshape(steps + 1, batch, -1)
        fmask = env.forward_mask(flat).reshape(steps + 1, batch, -1)
        reward = log_pb if cfg.soft_q_reward == "per_step" else torch.zeros_like(log_pb)
        exit_reward = trajs.log_reward.float()
        if cfg.soft_q_reward == "gsql":  # sum_t log n(s_t)/n(s_t+1) = -log n(x), all of it on the exit
            exit_reward = exit_reward - env.log_n(trajs.terminal).float()
        loss, info = soft_q_loss(scores.output.forward_logits, target_q, fmask, trajs.actions, reward,
                                 exit_reward, trajs.valid, trajs.is_exit, cfg.munchausen_alpha)
    if cfg.backward == "maxent_learned":
        n_loss, n_info = path_count_loss(scores.log_n, scores.log_pb_learned, trajs.lengths, cfg.n_loss,
                                         cfg.subtb_lambda)
        loss = loss + cfg.n_loss_weight * n_loss
        info = {**info, **n_info}
    return loss, info


@torch.no_grad()
def evaluate(cfg: Config, env: EnumerableDagEnv, graph: Graph, policy: GFlowNetPolicy, log_z: torch.Tensor,
             true_log_z: float) -> dict[str, float]:
    """Exact L1 to R/Z (and to the naive n R target), H(tau), |log Z error|, learned log n error."""
    out = policy(env.to_input(graph.states))  # one pass gives P_F, log F and log n on every state
    log_pf = log_pf_from_logits(graph, out.forward_logits)
    reach = reach_probabilities(graph, log_pf)
    metrics = exact_metrics(graph, log_pf, reach)
    p_t = terminal_distribution(graph, log_pf, reach)
    naive = torch.softmax(torch.where(graph.valid, env.log_n(graph.states) + graph.log_reward,
                                      torch.tensor(-torch.inf, dtype=torch.float64)), 0)
    if cfg.algorithm == "soft_q":  # V(s0) = logsumexp Q(s0, .) estimates log Z
        estimate = torch.logsumexp(out.forward_logits[0].masked_fill(~graph.forward_mask[0], NEG_INF), 0)
    elif cfg.algorithm == "db":
        estimate = out.log_flow[0]
    else:
        estimate = log_z
    metrics.update({"l1_to_naive_target": float((p_t - naive).abs().sum()),
                    "log_z_error": abs(float(estimate) - true_log_z)})
    if cfg.backward == "maxent_learned":
        err = (out.log_n.double() - env.log_n(graph.states))[graph.valid]
        err[0] = 0.0  # log n(s0) is pinned to 0
        metrics.update({"log_n_error_max": float(err.abs().max()), "log_n_error_mean": float(err.abs().mean())})
    return metrics


def mode_counts(env: HyperGrid | FragmentTreeEnv, modes: torch.Tensor) -> dict[str, int]:
    """Modes found so far; for molecules also how many of them are Tanimoto-distinct (similarity below
    0.7 to every higher-scoring mode counted)."""
    out = {"modes_found": int(modes.sum())}
    if isinstance(env, FragmentTreeEnv):
        found = torch.nonzero(modes)[:, 0]
        order = found[torch.argsort(env.scores[found], descending=True)]
        out["distinct_modes"] = distinct_modes([env.smiles[i] for i in order.tolist()])
    return out


def train(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    """GFlowNet on the hypergrid (Mohammadpour, Bengio, Frejinger, Bacon, "Maximum entropy GFlowNets with
    soft Q-learning", AISTATS 2024).

    A GFlowNet samples x with probability R(x)/Z. Which backward policy P_B it is trained with decides
    how it spreads probability over the paths to each x: the maximum-entropy choice P_B(s|s') =
    n(s)/n(s'), from the path counts n, makes the sampler's trajectory entropy maximal. It is given by the
    environment (`backward=maxent`) or learned (`maxent_learned`: a log n head trained by an n-loss).
    `algorithm=soft_q` trains the same network as a soft Q-function on the MDP whose moves earn
    log P_B(s|s') (per_step), 0 with -log n(x) added on the exit (gsql, the paper's), or 0 (naive, biased
    towards n(x)R(x)). Every `eval_every` iterations the
    sampler is evaluated exactly by dynamic programming over all states.

    CLI: `anthology train maxent_gfn --preset demo --backward uniform`.
    Left out: the paper's QM9 experiment (its fragment-tree task is `--preset fragments`).
    """
    check_config(cfg)
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    require_cpu(cfg.device, "maxent_gfn", "the hypergrid sampler runs on the CPU and small MLPs gain nothing on a GPU")
    env = make_env(cfg.env)
    graph = build_graph(env)
    true_log_z = log_partition(graph)
    policy = GFlowNetPolicy(env.input_dim, env.n_actions, env.n_backward_actions, cfg.hidden, cfg.layers)
    log_z = nn.Parameter(torch.zeros(()))
    optimizer = torch.optim.Adam([{"params": policy.parameters(), "lr": cfg.lr},
                                  {"params": [log_z], "lr": cfg.lr_log_z}])
    target = copy.deepcopy(policy).requires_grad_(False) if cfg.algorithm == "soft_q" else None
    holder = nn.Module()
    holder.policy, holder.target = policy, target
    holder.log_z = log_z
    generator = torch.Generator().manual_seed(cfg.seed)
    stateful = {"model": holder, "optimizer": optimizer}

    start, curve, modes = 0, [], torch.zeros(env.n_states, dtype=torch.bool)
    if run_dir is not None:
        run_dir.write_config(cfg, "maxent_gfn", "custom")
        if run_dir.has_checkpoint():
            start, extra = load_training_state(run_dir.checkpoint_path, stateful, generator)
            curve, modes = extra["curve"], extra["modes"]
    tracker.start(cfg.iterations, start, f"{cfg.algorithm} {cfg.backward}")
    began, last_log, train_seconds = time.perf_counter(), start, 0.0
    for it in range(start, cfg.iterations):
        tick = time.perf_counter()
        trajs = sample_trajectories(env, policy, cfg.batch_size, generator, cfg.epsilon)
        scores = score_trajectories(env, policy, trajs, cfg.backward)
        loss, info = gflownet_loss(cfg, log_z, trajs, scores, target, env)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if target is not None:
            with torch.no_grad():
                for p_t, p in zip(target.parameters(), policy.parameters()):
                    p_t.lerp_(p, cfg.target_ema)
        train_seconds += time.perf_counter() - tick
        found = env.is_mode(trajs.terminal)
        modes[env.index(trajs.terminal[found])] = True
        done = it + 1
        if done % cfg.eval_every == 0 or done == cfg.iterations:
            evaluation = {**evaluate(cfg, env, graph, policy, log_z, true_log_z), **mode_counts(env, modes)}
            record = {"step": done, "train/trajectories": done * cfg.batch_size,
                      **{f"eval/{k}": v for k, v in evaluation.items()}}
            curve.append(record)
            tracker.log(done, {k: v for k, v in record.items() if k != "step"})
        if done % cfg.log_every == 0:
            elapsed = time.perf_counter() - began
            tracker.log(done, {"train/loss": loss.item(), **{k: v.item() for k, v in info.items()},
                               "time/iterations_per_sec": (done - last_log) / max(elapsed, 1e-9)})
            began, last_log = time.perf_counter(), done
        if run_dir is not None and done % cfg.checkpoint_every == 0 and done < cfg.iterations:
            save_training_state(run_dir.checkpoint_path, done, stateful, generator,
                                {"curve": curve, "modes": modes})

    final = curve[-1]
    samples = sample_trajectories(env, policy, SAMPLED_L1_SAMPLES, generator).terminal
    summary = {"method": "maxent_gfn", "algorithm": cfg.algorithm, "backward": cfg.backward,
               "soft_q_reward": cfg.soft_q_reward, "seed": cfg.seed, "iterations": cfg.iterations,
               "trajectories": cfg.iterations * cfg.batch_size, "true_log_z": true_log_z,
               "n_modes": int(env.is_mode(graph.states[graph.valid]).sum()),
               **{k: v for k, v in final.items() if k.startswith("eval/")},
               **({"eval/distinct_modes_mean": float(np.mean([c["eval/distinct_modes"] for c in curve]))}
                  if "eval/distinct_modes" in final else {}),
               "eval/sampled_l1": sampled_l1(env, graph, samples)}
    tracker.log(cfg.iterations, {"time/train_seconds": train_seconds})
    tracker.close()
    if run_dir is not None:
        run_dir.write_curve(curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, curve, {"policy": policy, "log_z": log_z.detach()})


def load_curve(run_dir: RunDir) -> list[dict[str, float]]:
    return run_dir.read_curve()
