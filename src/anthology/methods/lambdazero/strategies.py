"""LambdaZero's strategy and its baselines, one round each, in one table (`STRATEGIES`).

Every round spends oracle calls through `Search.label`, only on admissible molecules (every constraint
met). Round 0 (the seed set) is the same for all: the first admissible molecules of the random stream
(`Screen`). After it:
- lambdazero: PPO episodes rewarded by the proxy's UCB reward propose molecules, the acquisition sends
  the best by reward to the oracle and the proxy is refit (`active_learning_round`);
- random_policy_al: the same acquisition over random fragment molecules;
- rl_oracle: PPO rewarded by the oracle itself, every new molecule a call (`oracle_rl_round`);
- screen_fragments / screen_moses: the next molecules of a random stream (`screen_round`).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence

import numpy as np
import torch

from anthology.chem.data import moses_smiles
from anthology.chem.fragment_graph import FragmentGraphs
from anthology.chem.fragments import FragmentMDP, FragmentState
from anthology.chem.scoring import canonical_smiles
from anthology.chem.surrogate import acquire
from anthology.core.errors import AnthologyError
from anthology.rl.ppo import masked_ppo_update, terminal_reward_gae

from .config import Config
from .networks import NEG_INF, FragmentActorCritic
from .search import RoundScorer, Search, canonical, normalised, properties, random_molecule


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
    max_blocks + 1 steps)."""
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


@dataclasses.dataclass
class Learner:
    """The policy, its optimizer and the state-graph builder, handed to every round."""

    policy: FragmentActorCritic
    optimizer: torch.optim.Optimizer
    graphs: FragmentGraphs
    generator: torch.Generator

    def episodes(self, mdp: FragmentMDP, n: int) -> Episodes:
        return collect_episodes(mdp, self.graphs, self.policy, n, self.generator)

    def update(self, cfg: Config, episodes: Episodes, rewards: np.ndarray) -> dict[str, float]:
        """PPO (`rl.ppo.masked_ppo_update`) with GAE (gamma = 1) on the reward of each episode's last
        transition, states read through the MPNN."""
        advantages, returns = terminal_reward_gae(episodes.episode, episodes.values,
                                                  torch.from_numpy(rewards).float(), cfg.gae_lambda)
        return masked_ppo_update(
            lambda idx: self.policy(self.graphs([episodes.states[i] for i in idx.tolist()])),
            self.policy.parameters(), self.optimizer, episodes.masks, episodes.actions, episodes.log_probs,
            advantages, returns, cfg.ppo_epochs, cfg.minibatch_size, cfg.clip, cfg.entropy_coef, self.generator)


# ---- random streams ------------------------------------------------------------------------------
class Screen:
    """The random molecules of a run: random fragment molecules (the seed set, the fragment screen and
    random_policy_al's proposals share one stream) or, for screen_moses, a seeded shuffle of MOSES."""

    def __init__(self, cfg: Config, mdp: FragmentMDP) -> None:
        self.cfg, self.mdp = cfg, mdp
        self.molecules = random.Random(cfg.seed)
        self.cursor = 0
        self.moses: list[str] = []
        if cfg.strategy == "screen_moses":
            pool = moses_smiles("train")
            self.moses = [pool[i] for i in np.random.default_rng(cfg.seed).permutation(len(pool))[: 8 * cfg.budget]]

    def fragments(self, n: int) -> list[FragmentState]:
        return [random_molecule(self.mdp, self.molecules) for _ in range(n)]

    def _draw(self, n: int) -> list[str]:
        """The stream's next n molecules (canonical SMILES; fewer when MOSES runs out)."""
        if self.cfg.strategy != "screen_moses":
            return canonical(self.mdp, self.fragments(n))
        out = []
        for smiles in self.moses[self.cursor:self.cursor + n]:
            out.append(canonical_smiles(smiles) or smiles)
        self.cursor += len(out)
        return out

    def next_unlabelled(self, n: int, search: Search) -> list[str]:
        """The stream's next n molecules that are admissible (every constraint met) and not labelled yet;
        the rest of the stream is skipped without an oracle call."""
        out: list[str] = []
        while len(out) < n:
            batch = self._draw(max(2 * (n - len(out)), 8))
            if not batch:
                raise AnthologyError(f"the MOSES stream ran out after {self.cursor} molecules with {len(out)} of {n} "
                                     "admissible ones found; lower the budget or widen the constraints")
            batch = [s for s in dict.fromkeys(batch) if s not in search.known and s not in out]
            out += [s for s, ok in zip(batch, search.admissible(batch), strict=True) if ok][: n - len(out)]
        return out

    def state(self) -> dict:
        version, internal, gauss = self.molecules.getstate()
        return {"cursor": self.cursor, "molecules": [version, list(internal), gauss]}

    def restore(self, state: dict) -> None:
        self.cursor = state["cursor"]
        version, internal, gauss = state["molecules"]
        self.molecules.setstate((version, tuple(internal), gauss))


# ---- one round of each strategy ------------------------------------------------------------------
Round = Callable[[Config, Search, Learner, Screen, int], dict[str, float]]


def seed_round(cfg: Config, search: Search, learner: Learner, screen: Screen, round_index: int) -> dict[str, float]:
    search.label(screen.next_unlabelled(min(cfg.seed_molecules, cfg.budget), search), round_index)
    return {}


def screen_round(cfg: Config, search: Search, learner: Learner, screen: Screen, round_index: int
                 ) -> dict[str, float]:
    search.label(screen.next_unlabelled(min(cfg.acquire_per_round, search.remaining), search), round_index)
    return {}


def active_learning_round(cfg: Config, search: Search, learner: Learner, screen: Screen, round_index: int
                          ) -> dict[str, float]:
    """Refit the proxy on every label, propose molecules (PPO on the proxy's UCB reward, or random ones),
    acquire the best by reward."""
    scorer = RoundScorer(cfg, search.fit_proxy(round_index))
    info: dict[str, float] = {}
    if cfg.strategy == "random_policy_al":
        proposals = canonical(search.mdp, screen.fragments(cfg.random_proposals_per_round))
    else:
        proposals, rewards_seen = [], []
        while len(proposals) < cfg.proposals_per_round:
            episodes = learner.episodes(search.mdp, cfg.episodes_per_update)
            smiles = canonical(search.mdp, episodes.final)
            reward = scorer.reward(smiles)
            info = learner.update(cfg, episodes, reward)
            proposals += smiles
            rewards_seen.append(float(reward.mean()))
        info = {**info, "train/reward_mean": float(np.mean(rewards_seen))}
    fresh = [s for s in dict.fromkeys(proposals) if s not in search.known]
    candidates = [s for s, ok in zip(fresh, search.admissible(fresh), strict=True) if ok]
    if candidates:
        mean, std = scorer.predict(candidates)
        # ranked by the reward itself: elu2 of the normalised UCB (positive, monotone in UCB) times the
        # discount; the raw UCB times the discount would invert the ranking below zero
        ucb_reward = torch.from_numpy(normalised(cfg, (mean + cfg.kappa * std).numpy())).float()
        chosen = acquire(ucb_reward, min(cfg.acquire_per_round, search.remaining),
                         torch.zeros(len(candidates), dtype=torch.bool),
                         torch.from_numpy(scorer.discount(candidates)).float()).tolist()
        search.label([candidates[i] for i in chosen], round_index,
                     {candidates[i]: (float(mean[i]), float(std[i])) for i in chosen})
    if not any(r.round == round_index for r in search.labels):  # nothing admissible proposed: never stall
        fallback = screen.next_unlabelled(1, search)
        mean, std = scorer.predict(fallback)
        search.label(fallback, round_index, {s: (float(m), float(d)) for s, m, d in zip(fallback, mean, std)})
    return info


def oracle_rl_round(cfg: Config, search: Search, learner: Learner, screen: Screen, round_index: int
                    ) -> dict[str, float]:
    """One PPO update rewarded by the oracle: every new admissible molecule is an oracle call (repeats
    are free); a molecule that fails a constraint costs no call and is rewarded as a failed dock."""
    episodes = learner.episodes(search.mdp, cfg.episodes_per_update)
    smiles = canonical(search.mdp, episodes.final)
    search.label(smiles, round_index)
    score = search.scores()
    if any(ok and s not in score for s, ok in zip(smiles, search.admissible(smiles), strict=True)):
        return {}  # the budget ran out inside this batch: no update on a part
    ok = [v for v in score.values() if v is not None]
    fallback = float(np.mean(ok)) if ok else 0.0  # LambdaZero gives a failed dock the mean
    raw = np.array([score[s] if score.get(s) is not None else fallback for s in smiles], dtype=float)
    reward = normalised(cfg, raw) * properties(cfg, smiles).discount
    info = {**learner.update(cfg, episodes, reward), "train/reward_mean": float(reward.mean())}
    if not any(r.round == round_index for r in search.labels):
        search.label(screen.next_unlabelled(1, search), round_index)  # nothing new proposed: never stall
    return info


@dataclasses.dataclass(frozen=True)
class Strategy:
    round: Round
    """One round after the seed set."""
    episodes_per_round: Callable[[Config], int]
    """Policy episodes a round costs (0 for strategies without a policy)."""


STRATEGIES: dict[str, Strategy] = {
    "lambdazero": Strategy(active_learning_round, lambda cfg: cfg.proposals_per_round),
    "random_policy_al": Strategy(active_learning_round, lambda cfg: cfg.proposals_per_round),
    "rl_oracle": Strategy(oracle_rl_round, lambda cfg: cfg.episodes_per_update),
    "screen_fragments": Strategy(screen_round, lambda cfg: 0),
    "screen_moses": Strategy(screen_round, lambda cfg: 0),
}
