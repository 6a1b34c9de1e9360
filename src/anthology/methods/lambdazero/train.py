"""One LambdaZero run: a molecule-search strategy against an oracle at a fixed budget of oracle calls."""

from __future__ import annotations

import dataclasses
import pathlib
import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from anthology.chem.data import DATA_FILES, data_file, moses_smiles
from anthology.chem.fragment_graph import FragmentGraphs
from anthology.chem.fragments import FragmentMDP, FragmentState, load_blocks
from anthology.chem.oracles import CachedOracle, OracleCache, ProxyOracle, VinaOracle
from anthology.chem.scoring import canonical_smiles, score_smiles
from anthology.chem.surrogate import SurrogateEnsemble, acquire, fingerprint_matrix
from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import require_cpu
from anthology.core.errors import AnthologyError
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir, write_json
from anthology.core.seeding import seed_everything
from anthology.rl.ppo import masked_ppo_update, terminal_reward_gae
from anthology.tracking import Tracker, make_tracker

from .config import Config, MDPConfig, OracleConfig
from .networks import NEG_INF, FragmentActorCritic

LABELS_FILE = "labels.json"
TOP_K = (1, 10, 50)


# ---- building blocks ------------------------------------------------------------------------------
def make_mdp(cfg: MDPConfig, data_dir: str | None = None) -> FragmentMDP:
    if cfg.blocks in DATA_FILES:
        path = data_file(cfg.blocks, data_dir)
    else:
        path = pathlib.Path(cfg.blocks)
        if not path.is_file():
            raise AnthologyError(f"block library {cfg.blocks} not found; pass a block JSON file or a data file "
                                 f"name such as fragments/blocks_PDB_105.json")
    return FragmentMDP(load_blocks(path), cfg.max_blocks, cfg.max_atoms, cfg.max_stems)


def default_cache_path(run_dir: RunDir | None) -> pathlib.Path:
    """<runs>/lambdazero/oracle_cache.sqlite for a run under runs/lambdazero/..., else next to the run."""
    if run_dir is None:
        return pathlib.Path("runs") / "lambdazero" / "oracle_cache.sqlite"
    for parent in run_dir.path.resolve().parents:
        if parent.name == "lambdazero":
            return parent / "oracle_cache.sqlite"
    return run_dir.path / "oracle_cache.sqlite"


def make_oracle(cfg: OracleConfig, run_dir: RunDir | None = None) -> CachedOracle:
    """The configured oracle behind the SQLite result cache shared by all runs."""
    if cfg.kind == "proxy":
        oracle: Any = ProxyOracle(str(data_file("seh/seh_proxy_2021_params.npz", cfg.data_dir)))
    else:
        oracle = VinaOracle(str(data_file("seh/4jnc.nohet.aligned.pdbqt", cfg.data_dir)),
                            exhaustiveness=cfg.exhaustiveness, workers=cfg.workers, timeout=cfg.timeout,
                            ray_address=cfg.ray_address)
    return CachedOracle(oracle, OracleCache(cfg.cache or default_cache_path(run_dir)))


def ramp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """LambdaZero's `satlins` constraint factor: linear from `low` to `high`, clipped to [0.01, 1]."""
    return np.clip((x - low) / (high - low), 0.01, 1.0)


def elu2(y: np.ndarray) -> np.ndarray:
    """LambdaZero's positive score transform: y above 1, exp(y - 1) below."""
    return np.where(y > 1.0, y, np.exp(np.minimum(y, 1.0) - 1.0))


@dataclasses.dataclass(frozen=True)
class Properties:
    qed: np.ndarray
    sa: np.ndarray
    discount: np.ndarray
    """c_QED * c_SA."""
    satisfied: np.ndarray
    """Both ramps saturated: QED >= qed_ramp[1] and 10 - SA >= sa_ramp[1]."""


def properties(cfg: Config, smiles: Sequence[str]) -> Properties:
    rows = score_smiles(list(smiles))
    qed = np.array([r["qed"] for r in rows], dtype=float)
    sa = np.array([r["sa"] for r in rows], dtype=float)
    c_qed, c_sa = ramp(np.nan_to_num(qed), *cfg.qed_ramp), ramp(10.0 - np.nan_to_num(sa, nan=10.0), *cfg.sa_ramp)
    satisfied = (np.nan_to_num(qed) >= cfg.qed_ramp[1]) & (10.0 - np.nan_to_num(sa, nan=10.0) >= cfg.sa_ramp[1])
    return Properties(qed, sa, c_qed * c_sa, satisfied)


def random_molecule(mdp: FragmentMDP, rng: random.Random) -> FragmentState:
    """A random fragment molecule: 2..max_blocks blocks (uniform), each attach uniform over the valid ones."""
    state = FragmentState()
    for _ in range(rng.randint(min(2, mdp.max_blocks), mdp.max_blocks)):
        valid = [a for a, ok in enumerate(mdp.mask(state)) if ok and a >= mdp.attach_offset]
        if not valid:
            break
        state = mdp.step(state, rng.choice(valid))
    return state


# ---- PPO over the fragment MDP --------------------------------------------------------------------
@dataclasses.dataclass
class Episodes:
    states: list[FragmentState]
    """Every visited state, transition order (episode-major)."""
    masks: torch.Tensor  # [N, A]
    actions: torch.Tensor  # [N]
    log_probs: torch.Tensor  # [N]
    values: torch.Tensor  # [N]
    episode: torch.Tensor  # [N] episode of each transition
    final: list[FragmentState]
    """The molecule each episode stopped at."""


def mask_tensor(mdp: FragmentMDP, states: Sequence[FragmentState], stop_only: bool = False) -> torch.Tensor:
    masks = torch.tensor([mdp.mask(s) for s in states], dtype=torch.bool)
    if stop_only:
        masks[:, 1:] = False
    return masks


@torch.no_grad()
def collect_episodes(mdp: FragmentMDP, graphs: FragmentGraphs, policy: FragmentActorCritic, n: int,
                     generator: torch.Generator) -> Episodes:
    """n episodes of the policy from the empty molecule in lockstep until each stops (a forced stop at
    max_blocks + 1 steps). Random molecules come from `random_molecule`."""
    current = [FragmentState() for _ in range(n)]
    alive = list(range(n))
    per_episode: list[list[tuple]] = [[] for _ in range(n)]
    for t in range(mdp.max_blocks + 1):
        if not alive:
            break
        states = [current[i] for i in alive]
        masks = mask_tensor(mdp, states, stop_only=t == mdp.max_blocks)
        logits, values = policy(graphs(states))
        logits = logits.masked_fill(~masks, NEG_INF)
        dist = torch.distributions.Categorical(logits=logits)
        actions = torch.multinomial(dist.probs, 1, generator=generator)[:, 0]
        log_probs = dist.log_prob(actions)
        still = []
        for k, i in enumerate(alive):
            a = int(actions[k])
            per_episode[i].append((states[k], masks[k], a, float(log_probs[k]), float(values[k])))
            if a == 0:
                continue
            current[i] = mdp.step(current[i], a)
            still.append(i)
        alive = still
    rows = [(i, *step) for i, steps in enumerate(per_episode) for step in steps]
    return Episodes(states=[r[1] for r in rows], masks=torch.stack([r[2] for r in rows]),
                    actions=torch.tensor([r[3] for r in rows]), log_probs=torch.tensor([r[4] for r in rows]),
                    values=torch.tensor([r[5] for r in rows]), episode=torch.tensor([r[0] for r in rows]),
                    final=current)


def advantages_of(episodes: Episodes, rewards: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE (gamma = 1) with the reward on each episode's last transition, flattened like `episodes`."""
    return terminal_reward_gae(episodes.episode, episodes.values, rewards, lam)


def ppo_update(cfg: Config, policy: FragmentActorCritic, optimizer: torch.optim.Optimizer, graphs: FragmentGraphs,
               episodes: Episodes, rewards: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
    """PPO on the episodes' transitions (`rl.ppo.masked_ppo_update`), states read through the MPNN."""
    advantages, returns = advantages_of(episodes, rewards, cfg.gae_lambda)
    return masked_ppo_update(lambda idx: policy(graphs([episodes.states[i] for i in idx.tolist()])),
                             policy.parameters(), optimizer, episodes.masks, episodes.actions, episodes.log_probs,
                             advantages, returns, cfg.ppo_epochs, cfg.minibatch_size, cfg.clip, cfg.entropy_coef,
                             generator)


def top_k_means(scores: Sequence[float]) -> dict[str, float | None]:
    """Best, top-10 and top-50 mean; None while fewer than k molecules qualify."""
    ranked = sorted(scores, reverse=True)
    return {f"top{k}": float(np.mean(ranked[:k])) if len(ranked) >= k else None for k in TOP_K}


class Search:
    """Labels (oracle calls) and the proxy, shared by every strategy."""

    def __init__(self, cfg: Config, mdp: FragmentMDP, oracle: CachedOracle) -> None:
        self.cfg, self.mdp, self.oracle = cfg, mdp, oracle
        self.labels: list[dict[str, Any]] = []
        self.known: set[str] = set()

    @property
    def calls(self) -> int:
        return len(self.labels)

    @property
    def remaining(self) -> int:
        return self.cfg.budget - self.calls

    def label(self, smiles: Sequence[str], round_index: int, predicted: dict[str, tuple[float, float]] | None = None
              ) -> list[float | None]:
        """Send new molecules (canonical, unlabelled, within budget) to the oracle and record each result."""
        fresh: list[str] = []
        for s in smiles:
            if s not in self.known and s not in fresh and len(fresh) < self.remaining:
                fresh.append(s)
        if not fresh:
            return []
        props = properties(self.cfg, fresh)
        out = []
        for i, result in enumerate(self.oracle.score(fresh)):
            value = result.value if result.status == "ok" else None
            record = {"smiles": fresh[i], "score": value, "status": result.status, "round": round_index,
                      "qed": float(props.qed[i]), "sa": float(props.sa[i]), "satisfied": bool(props.satisfied[i])}
            if predicted is not None and fresh[i] in predicted:
                record["predicted_mean"], record["predicted_std"] = predicted[fresh[i]]
            self.labels.append(record)
            self.known.add(fresh[i])
            out.append(value)
        return out

    def training_set(self) -> tuple[list[str], torch.Tensor]:
        ok = [r for r in self.labels if r["score"] is not None]
        return [r["smiles"] for r in ok], torch.tensor([r["score"] for r in ok], dtype=torch.float32)

    def fit_proxy(self, round_index: int) -> SurrogateEnsemble:
        smiles, y = self.training_set()
        if len(smiles) < 2:
            raise AnthologyError("fewer than two successful oracle calls to fit the proxy on; check the oracle")
        proxy = SurrogateEnsemble(self.cfg.ensemble, self.cfg.proxy_hidden, self.cfg.proxy_epochs,
                                  seed=self.cfg.seed * 1000 + round_index)
        return proxy.fit(fingerprint_matrix(smiles), y)

    def record(self, round_index: int, seconds: float) -> dict[str, Any]:
        satisfying = [r["score"] for r in self.labels if r["satisfied"] and r["score"] is not None]
        batch = [r for r in self.labels if r["round"] == round_index and "predicted_mean" in r and r["score"] is not None]
        return {"step": round_index, "train/oracle_calls": self.calls, "train/satisfying": len(satisfying),
                "train/failed": sum(r["score"] is None for r in self.labels),
                **{f"eval/{k}": v for k, v in top_k_means(satisfying).items()},
                "eval/proxy_r2": r_squared([r["predicted_mean"] for r in batch], [r["score"] for r in batch]),
                "time/seconds": seconds}


def r_squared(predicted: Sequence[float], observed: Sequence[float]) -> float | None:
    """1 - SSE / SST of a batch; None below two labels or without spread."""
    if len(observed) < 2:
        return None
    p, o = np.asarray(predicted), np.asarray(observed)
    total = float(((o - o.mean()) ** 2).sum())
    return 1.0 - float(((o - p) ** 2).sum()) / total if total > 0 else None


def canonical(mdp: FragmentMDP, states: Sequence[FragmentState]) -> list[str]:
    return [canonical_smiles(mdp.smiles(s)) or mdp.smiles(s) for s in states]


def normalised(cfg: Config, scores: np.ndarray) -> np.ndarray:
    return elu2((scores - cfg.oracle.reward_shift) / cfg.oracle.reward_scale)


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
    graphs = FragmentGraphs(mdp)
    oracle = make_oracle(cfg.oracle, run_dir)
    search = Search(cfg, mdp, oracle)
    policy = FragmentActorCritic(mdp, cfg.hidden, cfg.mp_steps)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    molecules = random.Random(cfg.seed)  # the seed set and the fragment screen share this stream
    moses: list[str] = []
    if cfg.strategy == "screen_moses":
        pool = moses_smiles("train")
        moses = [pool[i] for i in np.random.default_rng(cfg.seed).permutation(len(pool))[: 4 * cfg.budget]]
    curve: list[dict[str, float]] = []
    round_index, cursor, episodes_seen = 0, 0, 0
    stateful = {"policy": policy, "optimizer": optimizer}
    if run_dir is not None:
        run_dir.write_config(cfg, "lambdazero", "custom")
        if run_dir.has_checkpoint():
            round_index, extra = load_training_state(run_dir.checkpoint_path, stateful, generator)
            curve, search.labels, cursor = extra["curve"], extra["labels"], extra["cursor"]
            episodes_seen = extra["episodes"]
            search.known = {r["smiles"] for r in search.labels}
            molecules.setstate((extra["molecules"][0], tuple(extra["molecules"][1]), extra["molecules"][2]))
    tracker.start(cfg.budget, search.calls, f"{cfg.strategy} ({cfg.oracle.kind})")

    def next_screened(n: int) -> list[str]:
        nonlocal cursor
        out: list[str] = []
        while len(out) < n:
            if cfg.strategy == "screen_moses":
                if cursor >= len(moses):
                    break
                smiles = canonical_smiles(moses[cursor]) or moses[cursor]
                cursor += 1
            else:
                smiles = canonical(mdp, [random_molecule(mdp, molecules)])[0]
            if smiles not in search.known and smiles not in out:
                out.append(smiles)
        return out

    while search.remaining > 0:
        tick = time.perf_counter()
        info: dict[str, float] = {}
        if round_index == 0:  # the seed set: the first molecules of the random stream
            search.label(next_screened(min(cfg.seed_molecules, cfg.budget)), 0)
        elif cfg.strategy in ("screen_fragments", "screen_moses"):
            search.label(next_screened(min(cfg.acquire_per_round, search.remaining)), round_index)
        elif cfg.strategy == "rl_oracle":
            info = rl_on_oracle_round(cfg, search, policy, optimizer, graphs, generator, round_index)
            episodes_seen += cfg.episodes_per_update
        else:
            scorer = RoundScorer(cfg, search.fit_proxy(round_index))
            proposals, info = propose(cfg, search, scorer, policy, optimizer, graphs, generator, molecules)
            episodes_seen += cfg.proposals_per_round
            candidates = [s for s in dict.fromkeys(proposals) if s not in search.known]
            if candidates:
                mean, std = scorer.predict(candidates)
                # ranked by the reward itself: elu2 of the normalised UCB (positive, monotone in UCB) times
                # the discount; the raw UCB times the discount would invert the ranking below zero
                reward = torch.from_numpy(normalised(cfg, (mean + cfg.kappa * std).numpy())).float()
                chosen = acquire(reward, min(cfg.acquire_per_round, search.remaining),
                                 torch.zeros(len(candidates), dtype=torch.bool),
                                 torch.from_numpy(scorer.discount(candidates)).float())
                picked = [candidates[i] for i in chosen.tolist()]
                search.label(picked, round_index,
                             {candidates[i]: (float(mean[i]), float(std[i])) for i in chosen.tolist()})
            if not any(r["round"] == round_index for r in search.labels):
                search.label(next_screened(1), round_index)  # nothing new proposed: never stall the budget
        record = search.record(round_index, time.perf_counter() - tick)
        record["train/episodes"] = episodes_seen
        curve.append(record)
        tracker.log(search.calls, {k: v for k, v in record.items() if k != "step"} | info)
        round_index += 1
        if run_dir is not None and search.remaining > 0:
            state = molecules.getstate()
            save_training_state(run_dir.checkpoint_path, round_index, stateful, generator,
                                {"curve": curve, "labels": search.labels, "cursor": cursor, "episodes": episodes_seen,
                                 "molecules": [state[0], list(state[1]), state[2]]})
    summary = summarize_run(cfg, search, curve)
    tracker.close()
    if run_dir is not None:
        run_dir.write_curve(curve)
        write_json(run_dir.path / LABELS_FILE, search.labels)
        run_dir.write_summary(summary)
    oracle.cache.close()
    return TrainResult(summary, curve, {"labels": search.labels})


class RoundScorer:
    """The proxy's mean and std and the constraint discount of molecules, each computed once a round (the
    PPO reward and the acquisition both need them for the same proposals)."""

    def __init__(self, cfg: Config, proxy: SurrogateEnsemble) -> None:
        self.cfg, self.proxy = cfg, proxy
        self.predictions: dict[str, tuple[float, float]] = {}
        self.discounts: dict[str, float] = {}

    def predict(self, smiles: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        todo = [s for s in dict.fromkeys(smiles) if s not in self.predictions]
        if todo:
            mean, std = self.proxy.predict(fingerprint_matrix(todo))
            self.predictions.update({s: (float(m), float(d)) for s, m, d in zip(todo, mean, std)})
        return (torch.tensor([self.predictions[s][0] for s in smiles]),
                torch.tensor([self.predictions[s][1] for s in smiles]))

    def discount(self, smiles: Sequence[str]) -> np.ndarray:
        todo = [s for s in dict.fromkeys(smiles) if s not in self.discounts]
        if todo:
            self.discounts.update(zip(todo, properties(self.cfg, todo).discount.tolist()))
        return np.array([self.discounts[s] for s in smiles])


def propose(cfg: Config, search: Search, scorer: RoundScorer, policy: FragmentActorCritic,
            optimizer: torch.optim.Optimizer, graphs: FragmentGraphs, generator: torch.Generator,
            molecules: random.Random) -> tuple[list[str], dict[str, float]]:
    """One round of proposals: PPO episodes rewarded by the proxy's UCB (lambdazero) or random molecules
    (random_policy_al). Returns the proposals' SMILES and training metrics."""
    if cfg.strategy == "random_policy_al":
        return canonical(search.mdp, [random_molecule(search.mdp, molecules)
                                      for _ in range(cfg.proposals_per_round)]), {}
    proposals: list[str] = []
    info: dict[str, float] = {}
    rewards_seen = []
    while len(proposals) < cfg.proposals_per_round:
        episodes = collect_episodes(search.mdp, graphs, policy, cfg.episodes_per_update, generator)
        smiles = canonical(search.mdp, episodes.final)
        mean, std = scorer.predict(smiles)
        ucb = (mean + cfg.kappa * std).numpy()
        reward = normalised(cfg, ucb) * scorer.discount(smiles)
        info = ppo_update(cfg, policy, optimizer, graphs, episodes, torch.from_numpy(reward).float(), generator)
        proposals += smiles
        rewards_seen.append(float(reward.mean()))
    return proposals, {**info, "train/reward_mean": float(np.mean(rewards_seen))}


def rl_on_oracle_round(cfg: Config, search: Search, policy: FragmentActorCritic, optimizer: torch.optim.Optimizer,
                       graphs: FragmentGraphs, generator: torch.Generator, round_index: int) -> dict[str, float]:
    """One PPO update rewarded by the oracle: every new molecule is an oracle call (repeats are free)."""
    episodes = collect_episodes(search.mdp, graphs, policy, cfg.episodes_per_update, generator)
    smiles = canonical(search.mdp, episodes.final)
    search.label(smiles, round_index)
    score = {r["smiles"]: r["score"] for r in search.labels}
    labelled = [s for s in smiles if s in score]
    if len(labelled) < len(smiles):  # the budget ran out inside this batch: no update on a partial batch
        return {}
    ok = [v for v in score.values() if v is not None]
    fallback = float(np.mean(ok)) if ok else 0.0  # LambdaZero gives a failed dock the mean
    raw = np.array([score[s] if score[s] is not None else fallback for s in smiles], dtype=float)
    reward = normalised(cfg, raw) * properties(cfg, smiles).discount
    info = ppo_update(cfg, policy, optimizer, graphs, episodes, torch.from_numpy(reward).float(), generator)
    return {**info, "train/reward_mean": float(reward.mean())}


def summarize_run(cfg: Config, search: Search, curve: list[dict[str, float]]) -> dict[str, Any]:
    from anthology.chem.scoring import sample_metrics

    satisfying = sorted((r for r in search.labels if r["satisfied"] and r["score"] is not None),
                        key=lambda r: -r["score"])
    top50 = [r["smiles"] for r in satisfying[:50]]
    metrics = sample_metrics(top50) if len(top50) > 1 else {"internal_diversity": None, "scaffolds": float(len(top50))}
    r2 = [c["eval/proxy_r2"] for c in curve if c["eval/proxy_r2"] is not None]
    return {"method": "lambdazero", "strategy": cfg.strategy, "kappa": cfg.kappa, "oracle": cfg.oracle.kind,
            "seed": cfg.seed, "budget": cfg.budget, "oracle_calls": search.calls,
            "failed_calls": sum(r["score"] is None for r in search.labels),
            "satisfying": len(satisfying), **{f"eval/{k}": v for k, v in top_k_means([r["score"] for r in satisfying]).items()},
            "eval/top50_diversity": metrics["internal_diversity"], "eval/top50_scaffolds": metrics["scaffolds"],
            "eval/proxy_r2_mean": float(np.mean(r2)) if r2 else None,
            "eval/best_smiles": satisfying[0]["smiles"] if satisfying else None}


def load_curve(run_dir: RunDir) -> list[dict[str, float]]:
    return run_dir.read_curve()
