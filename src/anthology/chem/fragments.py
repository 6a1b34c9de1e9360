"""Fragment ("block") libraries and the fragment-molecule MDP of LambdaZero (Korablyov et al. 2021), also
used by fragment GFlowNets.

A block is a fragment SMILES with its attachment atoms `attach` (LambdaZero's `block_r`): when the block
is added to a molecule, `attach[0]` bonds to the molecule's open stem and the remaining entries become
new open stems (an atom may appear several times: several stems on one atom). The first block of a
molecule opens all of its attachment atoms as stems. Junctions are single bonds; each junction atom
gives up one hydrogen, so an attach is only offered where both atoms still carry one: every state the
MDP reaches sanitises.

Actions (`FragmentMDP`): 0 = stop; 1 .. max_blocks - 1 = delete junction j (keep the larger part; when
`allow_delete`); then one action per (stem slot, block) = attach block b at stem s (for the empty
molecule, stem slot 0 means "start with block b").
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any

from anthology.core.errors import AnthologyError, require


@dataclasses.dataclass(frozen=True)
class Block:
    name: str
    smiles: str
    attach: tuple[int, ...]


def load_blocks(path: str | os.PathLike) -> list[Block]:
    """Read a block library in LambdaZero's JSON layout ({block_name, block_smi, block_r}, each keyed by
    row) and check every block parses and has at least one attachment atom with a free hydrogen."""
    try:
        table = json.loads(pathlib.Path(path).read_text())
        rows = sorted(table["block_smi"], key=int)
        blocks = [Block(table["block_name"][r], table["block_smi"][r], tuple(int(a) for a in table["block_r"][r]))
                  for r in rows]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise AnthologyError(f"{path} is not a block library (JSON with block_name, block_smi, block_r): {err}") from err
    chem = require("rdkit.Chem", "chem")
    for block in blocks:
        mol = chem.MolFromSmiles(block.smiles)
        if mol is None or not block.attach or max(block.attach) >= mol.GetNumAtoms():
            raise AnthologyError(f"block '{block.name}' ({block.smiles}) in {path} is not a valid fragment")
    return blocks


@dataclasses.dataclass(frozen=True)
class FragmentState:
    blocks: tuple[int, ...] = ()
    """Block library indices, in the order they were added."""
    junctions: tuple[tuple[int, int, int, int], ...] = ()
    """(block position i, atom in i, block position j, atom in j) for every junction bond."""
    stems: tuple[tuple[int, int], ...] = ()
    """Open stems: (block position, atom in that block)."""


class FragmentMDP:
    """The fragment MDP over a block library, with masks that keep every reachable molecule valid."""

    def __init__(self, blocks: Sequence[Block], max_blocks: int = 6, max_atoms: int = 50, max_stems: int = 20,
                 allow_delete: bool = False) -> None:
        chem = require("rdkit.Chem", "chem")
        self.chem = chem
        self.blocks = list(blocks)
        self.block_mols = [chem.MolFromSmiles(b.smiles) for b in self.blocks]
        self.block_atoms = [m.GetNumAtoms() for m in self.block_mols]
        self.block_hydrogens = [[a.GetTotalNumHs() for a in m.GetAtoms()] for m in self.block_mols]
        self.max_blocks, self.max_atoms, self.max_stems = max_blocks, max_atoms, max_stems
        self.allow_delete = allow_delete
        self.n_blocks = len(self.blocks)
        self.delete_offset = 1
        self.attach_offset = 1 + (max_blocks - 1)
        self.n_actions = self.attach_offset + max_stems * self.n_blocks

    # ---- molecule ---------------------------------------------------------------------------------
    def _atom_offsets(self, state: FragmentState) -> list[int]:
        offsets, total = [], 0
        for b in state.blocks:
            offsets.append(total)
            total += self.block_atoms[b]
        return offsets

    def to_mol(self, state: FragmentState) -> Any:
        """The sanitised RDKit molecule of a state (None for the empty state)."""
        if not state.blocks:
            return None
        chem = self.chem
        mol = chem.RWMol()
        for b in state.blocks:
            mol.InsertMol(self.block_mols[b])
        offsets = self._atom_offsets(state)
        for i, ai, j, aj in state.junctions:
            a, c = offsets[i] + ai, offsets[j] + aj
            mol.AddBond(a, c, chem.BondType.SINGLE)
            for atom_index in (a, c):  # the junction takes one hydrogen from each end
                atom = mol.GetAtomWithIdx(atom_index)
                if atom.GetNumExplicitHs() > 0:
                    atom.SetNumExplicitHs(atom.GetNumExplicitHs() - 1)
                atom.UpdatePropertyCache(strict=False)
        out = mol.GetMol()
        chem.SanitizeMol(out)
        return out

    def smiles(self, state: FragmentState) -> str:
        mol = self.to_mol(state)
        return "" if mol is None else self.chem.MolToSmiles(mol)

    def n_atoms(self, state: FragmentState) -> int:
        return sum(self.block_atoms[b] for b in state.blocks)

    def free_hydrogens(self, state: FragmentState) -> dict[tuple[int, int], int]:
        """Hydrogens left on each (block position, atom) after the junctions took theirs."""
        free = {(p, a): self.block_hydrogens[b][a] for p, b in enumerate(state.blocks)
                for a in range(self.block_atoms[b])}
        for i, ai, j, aj in state.junctions:
            free[(i, ai)] -= 1
            free[(j, aj)] -= 1
        return free

    # ---- actions ----------------------------------------------------------------------------------
    def attach_action(self, stem: int, block: int) -> int:
        return self.attach_offset + stem * self.n_blocks + block

    def decode(self, action: int) -> tuple[str, int, int]:
        """('stop', 0, 0), ('delete', junction, 0) or ('attach', stem, block)."""
        if action == 0:
            return "stop", 0, 0
        if action < self.attach_offset:
            return "delete", action - self.delete_offset, 0
        stem, block = divmod(action - self.attach_offset, self.n_blocks)
        return "attach", stem, block

    def mask(self, state: FragmentState) -> list[bool]:
        """Which actions are valid: stop once there is a molecule; deletions of existing junctions; attaches
        at open stems whose atom keeps a hydrogen, of blocks whose first attachment atom has one, within
        the block and atom limits."""
        valid = [False] * self.n_actions
        valid[0] = bool(state.blocks)
        if self.allow_delete:
            for j in range(len(state.junctions)):
                valid[self.delete_offset + j] = True
        if len(state.blocks) >= self.max_blocks:
            return valid
        room = self.max_atoms - self.n_atoms(state)
        if not state.blocks:
            for b in range(self.n_blocks):
                valid[self.attach_action(0, b)] = self.block_atoms[b] <= room
            return valid
        free = self.free_hydrogens(state)
        for s, stem in enumerate(state.stems[: self.max_stems]):
            if free[stem] < 1:
                continue
            for b in range(self.n_blocks):
                block = self.blocks[b]
                if self.block_hydrogens[b][block.attach[0]] >= 1 and self.block_atoms[b] <= room:
                    valid[self.attach_action(s, b)] = True
        return valid

    def step(self, state: FragmentState, action: int) -> FragmentState:
        """The next state (stop returns the state itself); an action the mask forbids raises ValueError."""
        if not self.mask(state)[action]:
            raise ValueError(f"action {action} ({self.decode(action)}) is not valid in this state")
        kind, first, block = self.decode(action)
        if kind == "stop":
            return state
        if kind == "delete":
            return self.delete_junction(state, first)
        attach = self.blocks[block].attach
        if not state.blocks:
            return FragmentState((block,), (), tuple((0, a) for a in attach))
        position = len(state.blocks)
        stem = state.stems[first]
        stems = state.stems[:first] + state.stems[first + 1:] + tuple((position, a) for a in attach[1:])
        return FragmentState((*state.blocks, block), (*state.junctions, (stem[0], stem[1], position, attach[0])),
                             stems)

    def delete_junction(self, state: FragmentState, junction: int) -> FragmentState:
        """Remove junction bond `junction`, keep the component with more blocks (ties: the one holding the
        first block), and reopen the stem it used on the kept side."""
        i, ai, j, aj = state.junctions[junction]
        others = [jn for k, jn in enumerate(state.junctions) if k != junction]
        component = self._component(i, others)  # flood fill over the remaining junctions
        other = self._component(j, others)
        keep = component if (len(component), 0 in component) >= (len(other), 0 in other) else other
        reopened = (i, ai) if i in keep else (j, aj)
        kept = sorted(keep)
        renumber = {old: new for new, old in enumerate(kept)}
        junctions = tuple((renumber[a], x, renumber[b], y) for a, x, b, y in others if a in keep)
        stems = (*tuple((renumber[p], a) for p, a in state.stems if p in keep), (renumber[reopened[0]], reopened[1]))
        return FragmentState(tuple(state.blocks[p] for p in kept), junctions, stems)

    @staticmethod
    def _component(start: int, junctions: Sequence[tuple[int, int, int, int]]) -> set[int]:
        seen, frontier = {start}, [start]
        while frontier:
            node = frontier.pop()
            for a, _, b, _ in junctions:
                for x, y in ((a, b), (b, a)):
                    if x == node and y not in seen:
                        seen.add(y)
                        frontier.append(y)
        return seen


def decompose(smiles: str, max_heavy_atoms: int = 80) -> list[Block] | None:
    """Cut a molecule at acyclic single bonds that leave a ring atom (towards a non-terminal atom) and
    return its pieces as blocks whose attachment atoms are where the cuts were; None when the SMILES does
    not parse or the molecule is larger than `max_heavy_atoms` (a guard: such inputs are slow to cut)."""
    chem = require("rdkit.Chem", "chem")
    mol = chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumHeavyAtoms() > max_heavy_atoms:
        return None
    pattern = chem.MolFromSmarts("[R;!$([#1])]-&!@[!#1;D2,D3,D4]")
    bonds = sorted({mol.GetBondBetweenAtoms(a, b).GetIdx() for a, b in mol.GetSubstructMatches(pattern)})
    if not bonds:
        return [Block(chem.MolToSmiles(mol), chem.MolToSmiles(mol), (0,))]
    pieces = chem.GetMolFrags(chem.FragmentOnBonds(mol, bonds, addDummies=True), asMols=True,
                              sanitizeFrags=False)
    blocks = []
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    try:
        for piece in pieces:
            editable = chem.RWMol(piece)
            dummies = sorted(a.GetIdx() for a in editable.GetAtoms() if a.GetAtomicNum() == 0)
            attach = [editable.GetAtomWithIdx(d).GetNeighbors()[0].GetIdx() for d in dummies]
            for d in dummies:  # a cut end gets its hydrogen back ([nH] for an aromatic nitrogen)
                editable.GetAtomWithIdx(d).SetAtomicNum(1)
                editable.GetAtomWithIdx(d).SetIsotope(0)
            try:
                block = editable.GetMol()
                chem.SanitizeMol(block)
                block = chem.RemoveHs(block)
            except Exception:
                continue
            attach = [a - sum(d < a for d in dummies) for a in attach]  # the hydrogens are gone
            canonical = chem.MolToSmiles(block)  # attachment atoms renumbered to this SMILES' atom order
            output_order = list(block.GetPropsAsDict(True, True)["_smilesAtomOutputOrder"])
            index = {old: new for new, old in enumerate(output_order)}
            blocks.append(Block(canonical, canonical, tuple(sorted(index[a] for a in attach))))
    finally:
        RDLogger.EnableLog("rdApp.*")
    return blocks


def _decompose_chunk(chunk: Sequence[str], max_heavy_atoms: int) -> list[list[Block] | None]:
    return [decompose(s, max_heavy_atoms) for s in chunk]


def decompose_all(smiles: Sequence[str], max_heavy_atoms: int = 80, timeout: float | None = 10.0,
                  workers: int = 1, chunk_size: int = 64) -> list[list[Block] | None]:
    """`decompose` over a SMILES set: in-process without `timeout`; otherwise in `workers` spawned
    processes, `chunk_size` molecules a task, with a hard limit of `timeout` seconds a task (RDKit can hang
    on some inputs). A chunk over the limit is retried one molecule at a time, so only the molecules that
    hang come back as None, like those that do not parse."""
    if timeout is None:
        return [decompose(s, max_heavy_atoms) for s in smiles]
    from anthology.core.parallel import map_with_timeout

    chunks = [list(smiles[i:i + chunk_size]) for i in range(0, len(smiles), chunk_size)]
    out: list[list[Block] | None] = []
    for chunk, pieces in zip(chunks, map_with_timeout(_decompose_chunk, chunks, (max_heavy_atoms,), workers,
                                                      timeout * len(chunks[0]), lambda c: None)):
        if pieces is None and len(chunk) > 1:  # find the molecule that hung
            pieces = [p[0] if p is not None else None for p in map_with_timeout(
                _decompose_chunk, [[s] for s in chunk], (max_heavy_atoms,), workers, timeout, lambda c: None)]
        out.extend(pieces if pieces is not None else [None])
    return out


def derive_library(smiles: Sequence[str], size: int = 100, min_count: int = 2, max_heavy_atoms: int = 80,
                   timeout: float | None = 10.0, workers: int = 1) -> list[Block]:
    """The `size` most frequent blocks (same SMILES and attachment atoms) over a SMILES set; molecules
    that do not parse or take over `timeout` seconds to cut are skipped (`decompose_all`)."""
    counts: dict[Block, int] = {}
    for blocks in decompose_all(smiles, max_heavy_atoms, timeout, workers):
        for block in blocks or []:
            counts[block] = counts.get(block, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].smiles, kv[0].attach))
    return [dataclasses.replace(b, name=f"{b.smiles}_{i}") for i, (b, n) in enumerate(ranked[:size]) if n >= min_count]
