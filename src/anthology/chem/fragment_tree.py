"""Fragment trees as an enumerable GFlowNet DAG (the max-ent GFlowNet paper's sEH task at a size that can
be listed): every molecule of at most `max_blocks` blocks from a small library, built block by block with
`chem.fragments.FragmentMDP`'s attach moves, with exact path counts n(s).

A state is a fragment tree up to isomorphism: two build orders that give the same blocks joined at the same
atoms are one state (`tree_key`: the canonical SMILES of the molecule with every atom labelled by its
block's library index and a dummy atom inside every junction bond). Its open stems follow from the key (a
block's attachment atoms minus those its junctions use), so one representative `FragmentState` per state
gives every move. Moves between states are counted with multiplicity: two stems that give the same child
are two edges, and a trajectory is a sequence of moves, so n(s') = sum over incoming edges of n(s) (the
path count the official code's `NCounter` computes for its fragment environment).

States are batched as their index, [B, 1] (long); tables hold children, backward actions, levels, log n,
rewards and input features. Forward actions: attach slot k (stem k // n_blocks, block k % n_blocks of the
representative) for k < n_actions - 1, then exit. Backward actions: incoming edge k of the state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from anthology.chem.fragments import FragmentMDP, FragmentState


def tree_key(mdp: FragmentMDP, state: FragmentState) -> str:
    """The state's identity up to isomorphism: the molecule with every atom's isotope set to its block's
    library index + 1 and a dummy atom inserted in every junction bond, as canonical SMILES."""
    chem = mdp.chem
    mol = chem.RWMol()
    offsets = []
    for b in state.blocks:
        offsets.append(mol.GetNumAtoms())
        block = chem.Mol(mdp.block_mols[b])
        for atom in block.GetAtoms():
            atom.SetIsotope(b + 1)
            atom.SetNoImplicit(True)  # heavy atoms only: hydrogens follow from the blocks and junctions
            atom.SetNumExplicitHs(0)
        mol.InsertMol(block)
    for i, ai, j, aj in state.junctions:
        dummy = mol.AddAtom(chem.Atom(0))
        mol.AddBond(offsets[i] + ai, dummy, chem.BondType.SINGLE)
        mol.AddBond(dummy, offsets[j] + aj, chem.BondType.SINGLE)
    out = mol.GetMol()
    out.UpdatePropertyCache(strict=False)
    chem.FastFindRings(out)
    return chem.MolToSmiles(out, canonical=True)


class FragmentTreeEnv:
    """Every fragment tree of at most `mdp.max_blocks` blocks, as tables over state indices (s0 = 0 is the
    empty molecule, the only state that cannot exit)."""

    def __init__(self, mdp: FragmentMDP, score: Callable[[list[str]], np.ndarray], beta: float = 8.0,
                 norm: float = 8.0, mode_quantile: float = 0.99, fingerprint_bits: int = 512) -> None:
        """score: SMILES -> oracle score (higher is better; e.g. the sEH proxy); the reward is
        R(x) = max(score(x) / norm, 1e-3)^beta. Modes: terminal states whose score is at least the
        `mode_quantile` quantile of all of them."""
        self.beta, self.norm = beta, norm
        self.n_blocks, self.max_blocks = mdp.n_blocks, mdp.max_blocks  # the MDP itself is not kept (picklable)
        reps: list[FragmentState] = [FragmentState()]
        keys = {tree_key(mdp, reps[0]): 0}
        edges: list[tuple[int, int, int]] = []  # (parent, slot, child)
        level = [0]
        frontier = [0]
        slots = mdp.max_stems * mdp.n_blocks
        while frontier:
            nxt = []
            for parent in frontier:
                state = reps[parent]
                mask = mdp.mask(state)
                for slot in range(slots):
                    action = mdp.attach_offset + slot
                    if not mask[action]:
                        continue
                    child = mdp.step(state, action)
                    key = tree_key(mdp, child)
                    if key not in keys:
                        keys[key] = len(reps)
                        reps.append(child)
                        level.append(level[parent] + 1)
                        nxt.append(keys[key])
                    edges.append((parent, slot, keys[key]))
            frontier = nxt
        self.representatives, self.keys = reps, list(keys)
        self.n_states = len(reps)
        used_slots = 1 + max(slot for _, slot, _ in edges)
        self.n_actions = used_slots + 1
        self.exit_action = used_slots
        self.max_length = mdp.max_blocks + 1
        n = self.n_states
        self.children = torch.arange(n)[:, None].repeat(1, self.n_actions)  # exit (and masked moves) stay
        self.move_mask = torch.zeros(n, used_slots, dtype=torch.bool)
        incoming: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        self.back_index = torch.zeros(n, used_slots, dtype=torch.long)
        for parent, slot, child in edges:
            self.children[parent, slot] = child
            self.move_mask[parent, slot] = True
            self.back_index[parent, slot] = len(incoming[child])
            incoming[child].append((parent, slot))
        self.n_backward_actions = max(1, max(len(e) for e in incoming))
        self.in_degree = torch.tensor([len(e) for e in incoming])
        self.levels = torch.tensor(level)
        log_n = torch.full((n,), -math.inf, dtype=torch.float64)
        log_n[0] = 0.0
        for child in np.argsort(level, kind="stable")[1:]:
            log_n[child] = torch.logsumexp(log_n[[p for p, _ in incoming[child]]], 0)
        self._log_n = log_n
        self.smiles = [""] + [mdp.smiles(s) for s in reps[1:]]
        scores = np.asarray(score(self.smiles[1:]), dtype=float)
        self.scores = torch.cat([torch.tensor([math.nan], dtype=torch.float64), torch.from_numpy(scores)])
        flat = (self.scores / norm).clamp(min=1e-3)
        self._log_reward = torch.where(torch.arange(n) == 0, torch.tensor(-math.inf, dtype=torch.float64),
                                       beta * flat.log())
        self.mode_threshold = float(np.quantile(scores, mode_quantile))
        self._modes = torch.nan_to_num(self.scores, nan=-math.inf) >= self.mode_threshold
        self._features = self._make_features(mdp, fingerprint_bits)
        self.input_dim = self._features.shape[1]

    def _make_features(self, mdp: FragmentMDP, bits: int) -> torch.Tensor:
        """Block counts, the number of blocks (one-hot) and a Morgan fingerprint (radius 2) of the molecule."""
        from rdkit import DataStructs
        from rdkit.Chem import rdFingerprintGenerator

        n = self.n_states
        counts = np.zeros((n, mdp.n_blocks), dtype=np.float32)
        size = np.zeros((n, mdp.max_blocks + 1), dtype=np.float32)
        prints = np.zeros((n, bits), dtype=np.float32)
        generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=bits)
        for i, state in enumerate(self.representatives):
            for b in state.blocks:
                counts[i, b] += 1
            size[i, len(state.blocks)] = 1
            if i:
                DataStructs.ConvertToNumpyArray(generator.GetFingerprint(mdp.to_mol(state)), prints[i])
        return torch.from_numpy(np.concatenate([counts, size, prints], 1))

    # ---- the DagEnv protocol ----------------------------------------------------------------------------
    @property
    def s0(self) -> torch.Tensor:
        return torch.zeros(1, dtype=torch.long)

    def index(self, states: torch.Tensor) -> torch.Tensor:
        return states[..., 0]

    def all_states(self) -> torch.Tensor:
        return torch.arange(self.n_states)[:, None]

    def valid_states(self) -> torch.Tensor:
        """Every listed state is reachable; s0 cannot exit and has reward 0."""
        return torch.ones(self.n_states, dtype=torch.bool)

    def level(self, states: torch.Tensor) -> torch.Tensor:
        return self.levels[self.index(states)]

    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        idx = self.index(states)
        return torch.cat([self.move_mask[idx], (idx != 0)[..., None]], -1)

    def backward_mask(self, states: torch.Tensor) -> torch.Tensor:
        return torch.arange(self.n_backward_actions) < self.in_degree[self.index(states)][..., None]

    def step(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.children[self.index(states), actions][..., None]

    def backward_action(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """The backward action at the child that undoes move `actions` taken from `states`."""
        return self.back_index[self.index(states), actions]

    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        return self._log_reward[self.index(states)]

    def log_n(self, states: torch.Tensor) -> torch.Tensor:
        return self._log_n[self.index(states)]

    def is_mode(self, states: torch.Tensor) -> torch.Tensor:
        return self._modes[self.index(states)]

    def to_input(self, states: torch.Tensor) -> torch.Tensor:
        return self._features[self.index(states)]


def distinct_modes(smiles: Sequence[str], similarity: float = 0.7) -> int:
    """How many of these molecules are pairwise distinct: greedily, in order, a molecule counts when its
    Tanimoto similarity (Morgan radius 2, 2048 bits) to every molecule counted before is below `similarity`."""
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    from anthology.chem.scoring import to_mol

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    kept: list = []
    for s in smiles:
        mol = to_mol(s)
        if mol is None:
            continue
        fp = generator.GetFingerprint(mol)
        if all(DataStructs.TanimotoSimilarity(fp, other) < similarity for other in kept):
            kept.append(fp)
    return len(kept)
