"""What every LambdaZero strategy shares: the fragment MDP and the oracle, the constraint factors, and the
labelled molecules (one typed `Label` per oracle call), from which the proxy is refit and the run scored."""

from __future__ import annotations

import dataclasses
import pathlib
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from anthology.chem.data import DATA_FILES, data_file
from anthology.chem.fragments import FragmentMDP, FragmentState, load_blocks
from anthology.chem.oracles import CachedOracle, OracleCache, ProxyOracle, VinaOracle
from anthology.chem.scoring import canonical_smiles, molecular_weights, score_smiles
from anthology.chem.surrogate import SurrogateEnsemble, fingerprint_matrix
from anthology.core.errors import AnthologyError
from anthology.core.run_dir import RunDir

from .config import Config, MDPConfig, OracleConfig

TOP_K = (1, 10, 50)


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


# ---- the reward: constraint factors and the score transform ---------------------------------------
def ramp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """LambdaZero's `satlins` constraint factor: linear from `low` to `high`, clipped to [0.01, 1]."""
    return np.clip((x - low) / (high - low), 0.01, 1.0)


def elu2(y: np.ndarray) -> np.ndarray:
    """LambdaZero's positive score transform: y above 1, exp(y - 1) below."""
    return np.where(y > 1.0, y, np.exp(np.minimum(y, 1.0) - 1.0))


def normalised(cfg: Config, scores: np.ndarray) -> np.ndarray:
    """elu2((score - shift) / scale): the oracle's (or the proxy's UCB) score as a positive reward."""
    return elu2((scores - cfg.oracle.reward_shift) / cfg.oracle.reward_scale)


@dataclasses.dataclass(frozen=True)
class Properties:
    qed: np.ndarray
    sa: np.ndarray
    mw: np.ndarray
    alerts: np.ndarray
    discount: np.ndarray
    """c_QED * c_SA * c_MW * c_alert."""
    satisfied: np.ndarray
    """Every constraint met: QED >= qed_ramp[1], 10 - SA >= sa_ramp[1], MW inside mw_window and at most
    max_alerts structural alerts. Only such molecules are sent to the oracle, by every strategy."""


def properties(cfg: Config, smiles: Sequence[str]) -> Properties:
    rows = score_smiles(list(smiles))
    qed, sa, mw, alerts = (np.array([r[k] for r in rows], dtype=float) for k in ("qed", "sa", "mw", "alerts"))
    qed, synth = np.nan_to_num(qed), 10.0 - np.nan_to_num(sa, nan=10.0)
    mw, alerts = np.nan_to_num(mw), np.nan_to_num(alerts, nan=np.inf)
    low, high = cfg.mw_window
    c_mw = ramp(mw, low - cfg.mw_ramp, low) * ramp(-mw, -high - cfg.mw_ramp, -high)
    c_alert = np.where(alerts <= cfg.max_alerts, 1.0, 0.01)
    discount = ramp(qed, *cfg.qed_ramp) * ramp(synth, *cfg.sa_ramp) * c_mw * c_alert
    satisfied = ((qed >= cfg.qed_ramp[1]) & (synth >= cfg.sa_ramp[1]) & (mw >= low) & (mw <= high)
                 & (alerts <= cfg.max_alerts))
    return Properties(qed, sa, mw, alerts, discount, satisfied)


def meets_constraints(cfg: Config, smiles: Sequence[str]) -> list[bool]:
    """`properties(cfg, smiles).satisfied`, with the molecular weight checked first: it alone rules most
    fragment molecules out, and costs a fraction of QED, SA and the alert matching."""
    low, high = cfg.mw_window
    inside = [i for i, w in enumerate(molecular_weights(smiles)) if low <= w <= high]
    out = [False] * len(smiles)
    if inside:
        for i, ok in zip(inside, properties(cfg, [smiles[i] for i in inside]).satisfied, strict=True):
            out[i] = bool(ok)
    return out


def random_molecule(mdp: FragmentMDP, rng: random.Random) -> FragmentState:
    """A random fragment molecule: 2..max_blocks blocks (uniform), each attach uniform over the valid ones."""
    state = FragmentState()
    for _ in range(rng.randint(min(2, mdp.max_blocks), mdp.max_blocks)):
        valid = [a for a, ok in enumerate(mdp.mask(state)) if ok and a >= mdp.attach_offset]
        if not valid:
            break
        state = mdp.step(state, rng.choice(valid))
    return state


def canonical(mdp: FragmentMDP, states: Sequence[FragmentState]) -> list[str]:
    return [canonical_smiles(mdp.smiles(s)) or mdp.smiles(s) for s in states]


# ---- labels --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Label:
    """One oracle call: the molecule, its score (None unless the call succeeded) and what was known of it."""

    smiles: str
    score: float | None
    status: str
    """The oracle's status: ok, invalid, failed, timeout or crashed."""
    round: int
    """The round that labelled it (0: the seed set)."""
    qed: float
    sa: float
    satisfied: bool
    """Every constraint met (`properties`): it counts towards the top-k. Since 2026-12-01 only such
    molecules are labelled."""
    predicted_mean: float | None = None
    """The proxy's mean when an acquisition chose it (None in the seed set and for screens)."""
    predicted_std: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Label:
        return cls(**record)


def top_k_means(scores: Sequence[float]) -> dict[str, float | None]:
    """Best, top-10 and top-50 mean; None while fewer than k molecules qualify."""
    ranked = sorted(scores, reverse=True)
    return {f"top{k}": float(np.mean(ranked[:k])) if len(ranked) >= k else None for k in TOP_K}


def r_squared(predicted: Sequence[float], observed: Sequence[float]) -> float | None:
    """1 - SSE / SST of a batch; None below two labels or without spread."""
    if len(observed) < 2:
        return None
    p, o = np.asarray(predicted), np.asarray(observed)
    total = float(((o - o.mean()) ** 2).sum())
    return 1.0 - float(((o - p) ** 2).sum()) / total if total > 0 else None


def sigma_error_spearman(batch: Sequence[Label]) -> float | None:
    """Spearman correlation between the proxy's sigma and its absolute error on an acquired batch: does
    the uncertainty that kappa acts on carry information? None below three labels or without spread."""
    if len(batch) < 3:
        return None
    from scipy.stats import spearmanr

    sigma = np.array([r.predicted_std for r in batch], dtype=float)
    error = np.abs(np.array([r.predicted_mean for r in batch], dtype=float) - np.array([r.score for r in batch]))
    if np.ptp(sigma) == 0 or np.ptp(error) == 0:
        return None
    return float(spearmanr(sigma, error)[0])


class Search:
    """Labels (oracle calls) and the proxy, shared by every strategy."""

    def __init__(self, cfg: Config, mdp: FragmentMDP, oracle: CachedOracle) -> None:
        self.cfg, self.mdp, self.oracle = cfg, mdp, oracle
        self.labels: list[Label] = []
        self.known: set[str] = set()
        self._admissible: dict[str, bool] = {}

    @property
    def calls(self) -> int:
        return len(self.labels)

    @property
    def remaining(self) -> int:
        return self.cfg.budget - self.calls

    def restore(self, labels: Sequence[Label]) -> None:
        self.labels = list(labels)
        self.known = {r.smiles for r in self.labels}

    def admissible(self, smiles: Sequence[str]) -> list[bool]:
        """Whether each molecule meets every constraint (`properties(...).satisfied`), computed once per
        molecule: the constraints cost nothing next to an oracle call, so no strategy calls the oracle on a
        molecule that could never count."""
        todo = [s for s in dict.fromkeys(smiles) if s not in self._admissible]
        self._admissible.update(zip(todo, meets_constraints(self.cfg, todo)))
        return [self._admissible[s] for s in smiles]

    def label(self, smiles: Sequence[str], round_index: int, predicted: dict[str, tuple[float, float]] | None = None
              ) -> list[float | None]:
        """Send new molecules (canonical, unlabelled, admissible, within budget) to the oracle and record
        each result; molecules that fail a constraint are skipped without a call."""
        fresh: list[str] = []
        for s, ok in zip(smiles, self.admissible(smiles), strict=True):
            if ok and s not in self.known and s not in fresh and len(fresh) < self.remaining:
                fresh.append(s)
        if not fresh:
            return []
        props = properties(self.cfg, fresh)
        predicted = predicted or {}
        out = []
        for i, result in enumerate(self.oracle.score(fresh)):
            value = result.value if result.status == "ok" else None
            mean, std = predicted.get(fresh[i], (None, None))
            self.labels.append(Label(fresh[i], value, result.status, round_index, float(props.qed[i]),
                                     float(props.sa[i]), bool(props.satisfied[i]), mean, std))
            self.known.add(fresh[i])
            out.append(value)
        return out

    def scores(self) -> dict[str, float | None]:
        return {r.smiles: r.score for r in self.labels}

    def fit_proxy(self, round_index: int) -> SurrogateEnsemble:
        ok = [r for r in self.labels if r.score is not None]
        if len(ok) < 2:
            raise AnthologyError("fewer than two successful oracle calls to fit the proxy on; check the oracle")
        proxy = SurrogateEnsemble(self.cfg.ensemble, self.cfg.proxy_hidden, self.cfg.proxy_epochs,
                                  seed=self.cfg.seed * 1000 + round_index,
                                  bootstrap=self.cfg.uncertainty == "bootstrap")
        return proxy.fit(fingerprint_matrix([r.smiles for r in ok]),
                         torch.tensor([r.score for r in ok], dtype=torch.float32))

    def satisfying(self) -> list[Label]:
        """Successful labels with both constraints saturated, best first."""
        return sorted((r for r in self.labels if r.satisfied and r.score is not None), key=lambda r: -r.score)

    def record(self, round_index: int, seconds: float) -> dict[str, Any]:
        """The curve record after a round: calls so far, top-k of the satisfying, the proxy's R^2 on the batch."""
        batch = [r for r in self.labels if r.round == round_index and r.predicted_mean is not None
                 and r.score is not None]
        satisfying = self.satisfying()
        return {"step": round_index, "train/oracle_calls": self.calls, "train/satisfying": len(satisfying),
                "train/failed": sum(r.score is None for r in self.labels),
                **{f"eval/{k}": v for k, v in top_k_means([r.score for r in satisfying]).items()},
                "eval/proxy_r2": r_squared([r.predicted_mean for r in batch], [r.score for r in batch]),
                "eval/sigma_error_spearman": sigma_error_spearman(batch),
                "time/seconds": seconds}

    def summary(self, curve: Sequence[dict[str, Any]]) -> dict[str, Any]:
        from anthology.chem.scoring import sample_metrics

        cfg, satisfying = self.cfg, self.satisfying()
        top50 = [r.smiles for r in satisfying[:50]]
        metrics = (sample_metrics(top50) if len(top50) > 1
                   else {"internal_diversity": None, "scaffolds": float(len(top50))})
        r2 = [c["eval/proxy_r2"] for c in curve if c["eval/proxy_r2"] is not None]
        rho = [c["eval/sigma_error_spearman"] for c in curve if c.get("eval/sigma_error_spearman") is not None]
        return {"method": "lambdazero", "strategy": cfg.strategy, "kappa": cfg.kappa, "oracle": cfg.oracle.kind,
                "seed": cfg.seed, "budget": cfg.budget, "oracle_calls": self.calls,
                "failed_calls": sum(r.score is None for r in self.labels), "satisfying": len(satisfying),
                **{f"eval/{k}": v for k, v in top_k_means([r.score for r in satisfying]).items()},
                "eval/top50_diversity": metrics["internal_diversity"], "eval/top50_scaffolds": metrics["scaffolds"],
                "eval/proxy_r2_mean": float(np.mean(r2)) if r2 else None,
                "eval/sigma_error_spearman_mean": float(np.mean(rho)) if rho else None,
                "eval/best_smiles": satisfying[0].smiles if satisfying else None}


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

    def reward(self, smiles: Sequence[str]) -> np.ndarray:
        """R(x) = elu2((UCB(x) - shift) / scale) * c_QED(x) * c_SA(x), UCB = mu + kappa * sigma."""
        mean, std = self.predict(smiles)
        return normalised(self.cfg, (mean + self.cfg.kappa * std).numpy()) * self.discount(smiles)
