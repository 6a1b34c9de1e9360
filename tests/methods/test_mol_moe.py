"""Mol-MoE: the pipeline end to end, steering on a token-count task, resume, the CLI, bad input."""

import copy
import csv
import dataclasses
import importlib
import importlib.util
import json
import os

import numpy as np
import pytest

pytest.importorskip("transformers", reason="the llm extra is installed by make test")
pytest.importorskip("rdkit", reason="the chem extra is installed by make test")
if importlib.util.find_spec("moses") is None:
    pytest.skip("MOSES comes from the molsets wheel, installed by make test", allow_module_level=True)

import torch

from anthology.chem.data import moses_smiles
from anthology.chem.objectives import ObjectiveScorer
from anthology.chem.smiles_tokenizer import (
    encode_smiles,
    make_smiles_tokenizer,
    preference_prompt,
    prompt_ids,
)
from anthology.cli import main
from anthology.core.errors import AnthologyError, UnknownNameError
from anthology.core.run_dir import RunDir
from anthology.methods.mol_moe import PRESETS, EvalConfig, PretrainConfig, RLConfig, train
from anthology.methods.mol_moe.networks import make_base
from anthology.nets.causal_lm import (
    LMConfig,
    merge_into_mixtral,
    mlp_inputs,
    mlp_parameters,
    pad_batch,
    router_parameters,
)

S = importlib.import_module("anthology.methods.mol_moe.stages")
E = importlib.import_module("anthology.methods.mol_moe.evaluation")
TINY = PRESETS["tiny"]
METHODS = ("mol_moe", "rewarded_soups", "morlhf", "rewards_in_context", "mol_moe_init_router", "oracle_gates",
           "oracle_gates_layer0")


def carbon_share(smiles):
    """Two opposite objectives on strings: the share of aliphatic 'C' among carbons, and of aromatic 'c'."""
    aliphatic = np.array([s.count("C") for s in smiles])
    aromatic = np.array([s.count("c") for s in smiles])
    carbons = np.maximum(aliphatic + aromatic, 1)
    return np.stack([aliphatic / carbons, aromatic / carbons], 1), np.ones(len(smiles), bool)


@pytest.fixture(scope="module")
def corpus():
    return moses_smiles("train", limit=600)


def _mean_gate(ctx, moe, w, molecules):
    """Mean routing probability of each expert over every layer and molecule token, under preference w."""
    from anthology.methods.mol_moe.networks import gate_probabilities

    prompt = preference_prompt(ctx.objectives, w)
    start = len(prompt_ids(ctx.tokenizer, prompt))
    ids, attention, mask = pad_batch([encode_smiles(ctx.tokenizer, s, prompt) for s in molecules],
                                     [start] * len(molecules), ctx.tokenizer.pad_token_id)
    keep = mask.bool()
    return torch.stack([g[keep] for g in gate_probabilities(moe, ids, attention)]).mean((0, 1)).tolist()


def token_task(seed=0):
    return dataclasses.replace(
        TINY, objectives=("carbon", "other"), baselines=False, seed=seed, base_model=None,
        lm=LMConfig(hidden=32, layers=2, heads=2, intermediate=64, max_length=80), max_new_tokens=64,
        pretrain=PretrainConfig(molecules=600, epochs=10, batch_size=32, lr=3e-3, warmup_steps=5),
        expert=RLConfig(steps=20, prompts=8, k=4, lr=1e-2, beta=0.0, minibatch=32, ppo_epochs=1),
        router=RLConfig(steps=40, prompts=16, k=4, lr=1e-2, beta=0.0, minibatch=64, ppo_epochs=1),
        eval=EvalConfig(preferences=2, samples=8))


def test_tiny_pipeline_trains_every_method_and_reports_steering(shared_data, tmp_path):
    run = RunDir.create("mol_moe", "tiny", 0, tmp_path)
    result = train(TINY, run_dir=run)
    stats = {p.stem: json.loads(p.read_text()) for p in (run.path / "models" / "stats").iterdir()}
    assert set(stats) == {"base", "expert_0", "expert_1", "expert_2", "expert_3"}
    lo = np.array(stats["base"]["mean"])
    span = np.maximum(np.array([stats[f"expert_{k}"]["mean"][k] for k in range(4)]) - lo, 1e-3)
    weights = np.array(result.artifacts["steering"]["weights"])
    for method in METHODS:
        for metric in ("mae", "mae_raw", "r", "r_low", "r_high", "hypervolume", "reward", "validity"):
            assert np.isfinite(result.summary[f"eval/{method}/{metric}"]), (method, metric)
        # the paper's MAE against scaled targets: |w_k - (achieved mean score_k - lo_k) / (hi_k - lo_k)|,
        # with lo the base's mean score and hi the objective's expert's, over preferences, then objectives
        achieved = np.array(result.artifacts["steering"][method])
        expected = np.abs(weights - (achieved - lo) / span).mean()
        assert result.summary[f"eval/{method}/mae"] == pytest.approx(expected, rel=1e-9)
        assert result.summary[f"eval/{method}/mae_raw"] == pytest.approx(np.abs(weights - achieved).mean(), rel=1e-9)
    for method in ("mol_moe", "mol_moe_init_router"):
        assert {"vertex_qed", "gate_corr_l0", "gate_entropy_l2"} <= {k.split("/")[-1] for k in result.summary
                                                                     if k.startswith(f"eval/{method}/")}
    assert np.isfinite(result.summary["train/expert_gain_se_qed"])
    assert len(result.artifacts["steering"]["weights"]) == TINY.eval.preferences == len(result.artifacts["steering"]["mol_moe"])
    stages = {p.name for p in (run.path / "models").iterdir()}
    assert {"expert_0", "expert_3", "mol_moe", "morlhf", "rewards_in_context", "tokenizer"} <= stages
    assert (run.path / "models" / "mol_moe" / "model.safetensors").is_file()


def test_experts_change_only_mlps_and_the_router_only_gates(corpus):
    cfg = token_task()
    ctx = S.Context(cfg, make_smiles_tokenizer(cfg.objectives, corpus), carbon_share, corpus, None, None)
    base = make_base(cfg, ctx.tokenizer, torch.Generator().manual_seed(0))
    short = dataclasses.replace(cfg.expert, steps=2)
    before = copy.deepcopy(base)
    expert = S.train_expert(ctx, base, 0, short)
    mlps = {id(p) for p in mlp_parameters(expert)}
    for (name, p), q in zip(expert.named_parameters(), before.parameters(), strict=True):
        assert torch.isfinite(p).all()
        assert (not torch.equal(p, q)) == (id(p) in mlps), name
    S.model_stats(ctx, "expert_0", expert)
    S.model_stats(ctx, "expert_1", base)
    moe = merge_into_mixtral(base, [expert, base, base], S.router_init(ctx, base))  # 2 objectives + the base
    ctx = dataclasses.replace(ctx, cfg=dataclasses.replace(cfg, router=dataclasses.replace(cfg.router, steps=2)))
    routed = S.train_router(ctx, moe)
    gates = {id(p) for p in router_parameters(routed)}
    for (name, p), q in zip(routed.named_parameters(), moe.parameters(), strict=True):
        assert (not torch.equal(p, q)) == (id(p) in gates), name


def test_router_initialisation_reads_the_preference_shift_with_the_configured_spread(corpus):
    cfg = dataclasses.replace(token_task(), objectives=("carbon", "other", "third"), router_init_std=1.5)
    ctx = S.Context(cfg, make_smiles_tokenizer(cfg.objectives, corpus), None, corpus, None, None)
    base = make_base(cfg, ctx.tokenizer, torch.Generator().manual_seed(0))
    gates = S.router_init(ctx, base)
    # one row per expert: the three objectives' and, last, the base's (zeros: no preference of its own)
    assert [g.shape for g in gates] == [(4, cfg.lm.hidden)] * cfg.lm.layers
    assert all(not g[3].any() for g in gates)
    gates = [g[:3] for g in gates]
    molecules = corpus[:64]
    tokens = []  # per one-hot prompt k: MLP inputs of every molecule token, per layer
    for k in range(3):
        prompt = preference_prompt(cfg.objectives, [float(j == k) for j in range(3)])
        start = len(prompt_ids(ctx.tokenizer, prompt))
        ids, attention, mask = pad_batch([encode_smiles(ctx.tokenizer, s, prompt) for s in molecules],
                                         [start] * 64, ctx.tokenizer.pad_token_id)
        keep = mask.reshape(-1).bool()
        tokens.append([h.reshape(-1, cfg.lm.hidden)[keep] for h in mlp_inputs(base, ids, attention)])
    for layer, gate in enumerate(gates):
        per_prompt = [tokens[k][layer] for k in range(3)]
        logits = torch.cat(per_prompt) @ gate.T
        assert float(logits.std(0).mean()) == pytest.approx(1.5, rel=1e-4)  # the configured spread
        mean = torch.cat(per_prompt).mean(0)
        # orthogonal to the shared mean (an average token is routed evenly) ...
        torch.testing.assert_close(gate @ (mean / mean.norm()), torch.zeros(3), rtol=0, atol=1e-4)
        # ... and under its own one-hot prompt each expert's mean logit leads (Cauchy-Schwarz)
        by_prompt = torch.stack([t.mean(0) for t in per_prompt]) @ gate.T  # [prompt k, expert j]
        assert all(by_prompt[k, k] > by_prompt[k, j] for k in range(3) for j in range(3) if j != k)


@pytest.mark.learning
def test_the_merged_mixture_steers_a_task_built_for_it_and_the_trained_gates_follow_w(corpus):
    cfg = token_task(seed=0)
    result = train(cfg, scorer=carbon_share, corpus=corpus)
    ctx = S.Context(cfg, result.artifacts["tokenizer"], carbon_share, corpus, None, None)
    model = result.artifacts["models"]["mol_moe"]
    generator = torch.Generator().manual_seed(0)
    share = {w: carbon_share(E.sample_molecules(ctx, model, w, 128, generator))[0][:, 0].mean()
             for w in ((1.0, 0.0), (0.0, 1.0))}
    gap = share[(1.0, 0.0)] - share[(0.0, 1.0)]
    gates = {w: _mean_gate(ctx, model, w, corpus[:32]) for w in share}
    gate = gates[(1.0, 0.0)][0] - gates[(0.0, 1.0)][0]
    # gap: aliphatic share of 128 samples under w = (1, 0) minus under w = (0, 1); gate: expert 0's mean
    # gate under w = (1, 0) minus under w = (0, 1). token_task seeds 0-4 (issue 13's pipeline: normalised
    # rewards, the base as an extra expert, a base pretrained with descriptor prefixes):
    #   trained router  gap 0.020 0.041 0.110 0.338 0.218   gate 0.107 0.033 0.088 0.250 0.133
    #   initial router  gap 0.106 0.037 0.050 0.220 -0.010  gate 0.132 0.060 0.096 0.370 -0.007
    # so training helps on some seeds and not others (as in the quick rerun, mol_moe/README.md) and the
    # initial router is not asserted on. A router that ignores w (both prompts (0.5, 0.5)) gives gate
    # exactly 0 and gap 0.0004 on seed 0 (-0.018 for the initial merge): both assertions fail.
    assert gap > 0.01
    assert gate > 0.02


def test_train_and_generate_through_the_cli(shared_data, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["train", "mol_moe", "--preset", "tiny", "--runs", str(runs), "--quiet", "--no-baselines"]) == 0
    out = tmp_path / "molecules.csv"
    assert main(["generate", "mol_moe", "--weights", "qed=0.7,sa=0.3", "-n", "20", "--runs", str(runs),
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 20 and set(rows[0]) == {"smiles", "valid", "qed", "sa", "tpsa", "seh", "weighted_score"}
    for row in rows:
        expected = 0.7 * float(row["qed"]) + 0.3 * float(row["sa"])
        assert float(row["weighted_score"]) == pytest.approx(expected, abs=2e-4)
        assert row["valid"] == "1" or float(row["qed"]) == 0.0
    # never overwritten; bad weights and unknown objectives are one line each
    assert main(["generate", "mol_moe", "--weights", "qed=1", "-n", "5", "--runs", str(runs), "--out", str(out)]) == 2
    assert main(["generate", "mol_moe", "--weights", "logp=1", "--runs", str(runs), "--out", str(tmp_path / "b.csv")]) == 2
    assert main(["generate", "mol_moe", "--weights", "qed=1", "--runs", str(tmp_path / "none")]) == 2
    assert main(["generate", "koopman", "--weights", "qed=1"]) == 2
    err = capsys.readouterr().err
    assert "never overwritten" in err and "unknown objective 'logp'" in err and "anthology train mol_moe" in err
    assert "does not generate" in err and "Traceback" not in err
    # each mistake below is one line on stderr and exit code 2, before any sampling
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    base = ["generate", "mol_moe", "-n", "5", "--runs", str(runs)]
    for args, says in ((["--weights", "qed=0.5,qed=0.5"], "named twice"),
                       (["--weights", "qed=1e308,sa=1e308"], None),  # finite weights whose sum overflows: fine
                       (["--weights", "qed=inf"], "finite"),
                       (["--weights", "qed=1", "--temperature", "0"], "temperature"),
                       (["--weights", "qed=1", "--temperature", "-1"], "temperature"),
                       (["--weights", "qed=1", "--top-p", "1.5"], "top_p"),
                       (["--weights", "qed=1", "--max-new-tokens", "0"], "max_new_tokens"),
                       (["--weights", "qed=1", "--max-new-tokens", "100000"], "longer than this model"),
                       (["--weights", "qed=1", "--n", "0"], "n = 0")):
        target = tmp_path / f"{len(says or '')}-{args[-1]}.csv"
        code = main([*base, *args, "--out", str(target)])
        err = capsys.readouterr().err.strip()
        if says is None:
            assert code == 0 and target.exists(), err
            continue
        assert code == 2 and len(err.splitlines()) == 1 and says in err, (args, err)
    if os.geteuid() != 0:  # root writes anywhere
        assert main([*base, "--weights", "qed=1", "--out", str(locked / "x.csv")]) == 2
        assert "cannot write" in capsys.readouterr().err


def test_bad_configuration_is_a_clear_error(tmp_path):
    with pytest.raises(UnknownNameError, match="objective 'logp'"):
        ObjectiveScorer(("qed", "logp"))
    with pytest.raises(AnthologyError, match="no base model"):
        train(dataclasses.replace(TINY, base_model=str(tmp_path)), corpus=["CCO"])


def _two_experts(corpus):
    """A tiny base, two experts that differ from it in their MLPs, and the 3-expert merge (base last)."""
    cfg = token_task()
    tokenizer = make_smiles_tokenizer(cfg.objectives, corpus)
    base = make_base(cfg, tokenizer, torch.Generator().manual_seed(0))
    experts = []
    for k in range(2):
        expert = copy.deepcopy(base)
        with torch.no_grad():
            for p in mlp_parameters(expert):
                p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(k)) * 0.5)
        experts.append(expert)
    ids = torch.tensor([encode_smiles(tokenizer, s) for s in ("CCO", "CCN", "c1ccccc1")[:1]])
    return cfg, tokenizer, base, experts, merge_into_mixtral(base, [*experts, base]), ids


def test_oracle_gates_mix_the_experts_outputs_by_w_and_a_vertex_is_its_expert(corpus):
    from anthology.methods.mol_moe.networks import gate_probabilities, oracle_gates

    _cfg, _tok, _base, experts, moe, ids = _two_experts(corpus)
    with torch.no_grad():
        free = moe(input_ids=ids).logits
        for k, expert in enumerate(experts):  # the vertex check, exact: one-hot gates are expert k
            with oracle_gates(moe, [float(j == k) for j in range(2)]):
                torch.testing.assert_close(moe(input_ids=ids).logits, expert(input_ids=ids).logits, rtol=1e-4, atol=1e-4)
        with oracle_gates(moe, [0.3, 0.7]):
            gates = gate_probabilities(moe, ids, torch.ones_like(ids))
            mixed = moe(input_ids=ids).logits
        # every layer, every token: gates (0.3, 0.7, 0) for (expert 0, expert 1, base)
        for g in gates:
            torch.testing.assert_close(g, torch.tensor([0.3, 0.7, 0.0]).expand_as(g), rtol=0, atol=1e-6)
        assert not torch.allclose(mixed, experts[0](input_ids=ids).logits, atol=1e-3)
        with oracle_gates(moe, [1.0, 0.0], layers=[0]):  # layer 0 only: the others mix the experts evenly
            gates = gate_probabilities(moe, ids, torch.ones_like(ids))
        torch.testing.assert_close(gates[0][0, 0], torch.tensor([1.0, 0.0, 0.0]), rtol=0, atol=1e-6)
        torch.testing.assert_close(gates[1][0, 0], torch.tensor([0.5, 0.5, 0.0]), rtol=0, atol=1e-6)
        torch.testing.assert_close(moe(input_ids=ids).logits, free)  # the hooks are gone after the block


def test_gate_statistics_read_entropy_and_the_gates_correlation_with_w():
    from anthology.methods.mol_moe.networks import gate_statistics

    w = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    mask = torch.tensor([[0.0, 1.0, 1.0]] * 3)  # position 0 is the prompt
    follows = w[:, None, :].expand(3, 3, 2).clone()
    follows[:, 0] = torch.tensor([1.0, 0.0])  # the prompt position is not counted
    ignores = torch.full((3, 3, 2), 0.5) + torch.tensor([0.01, -0.01]) * torch.arange(3)[:, None, None]
    stats = gate_statistics([follows, ignores], mask, w)  # layer 1 leans against w
    assert stats["gate_corr_l0"] == pytest.approx(1.0)
    assert stats["gate_entropy_l0"] == pytest.approx(float(-(w * w.log()).sum(1).mean()))
    assert stats["gate_corr_l1"] < -0.99 and stats["gate_entropy_l1"] == pytest.approx(np.log(2), abs=1e-3)


def test_pretraining_descriptors_are_the_molecules_own_scaled_into_the_unit_interval():
    from anthology.methods.mol_moe.config import DESCRIPTORS

    values = S.descriptors(["CCO", "c1ccccc1C(=O)O", "not a smiles"])
    assert values.shape == (3, len(DESCRIPTORS)) and ((values >= 0) & (values <= 1)).all()
    row = dict(zip(DESCRIPTORS, values[0], strict=True))  # ethanol: logP -0.0014, MW 46, no ring, all sp3
    assert row["logp"] == pytest.approx((-0.0014 + 2) / 8, abs=1e-3) and row["mw"] == 0.0 and row["rings"] == 0.0
    assert (row["fsp3"], row["hbd"], row["hba"], row["arom"]) == pytest.approx((1.0, 0.2, 0.1, 0.0))
    benzoic = dict(zip(DESCRIPTORS, values[1], strict=True))
    assert (benzoic["rings"], benzoic["arom"], benzoic["fsp3"]) == pytest.approx((1 / 6, 1 / 4, 0.0))
    assert not values[2].any()


@pytest.mark.parametrize("router_reward", ["normalised", "raw"])
def test_preference_reward_normalises_by_the_experts_range_and_scores_invalid_molecules_as_configured(router_reward):
    def context(invalid_reward):
        cfg = dataclasses.replace(TINY, objectives=("qed", "sa"), router_reward=router_reward, invalid_reward=invalid_reward)
        ctx = S.Context(cfg, None, None, [], None, None)
        ctx.stats.update({"base": {"mean": [0.8, 0.5]}, "expert_0": {"mean": [0.9, 0.0]}, "expert_1": {"mean": [0.0, 0.7]}})
        return ctx

    scores = np.array([[0.9, 0.5], [0.8, 0.7], [0.0, 0.0]])  # expert 0's mean, expert 1's mean, invalid
    valid = np.array([True, True, False])
    w = torch.tensor([[1.0, 0.0], [0.25, 0.75], [0.5, 0.5]])
    zero, neutral = (context(m).preference_reward(scores, valid, w) for m in ("zero", "neutral"))
    if router_reward == "normalised":  # 0 at the base's mean, 1 at the objective's own expert's
        assert zero[:2].tolist() == pytest.approx([1.0, 0.75])
        assert zero[2].item() == pytest.approx(0.5 * -0.8 / 0.1 + 0.5 * -0.5 / 0.2)  # raw 0 sits far below
        assert neutral.tolist() == pytest.approx([1.0, 0.75, 0.0])  # invalid = the base's mean
    else:
        assert zero.tolist() == pytest.approx([0.9, 0.725, 0.0])
        assert neutral.tolist() == pytest.approx([0.9, 0.725, 0.65])
