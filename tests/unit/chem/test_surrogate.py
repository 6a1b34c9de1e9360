import torch

from anthology.chem.data import moses_smiles
from anthology.chem.surrogate import SurrogateEnsemble, acquire, fingerprint_matrix


def synthetic_oracle(x: torch.Tensor) -> torch.Tensor:
    """A fixed random linear function of the Morgan bits (the notes' synthetic oracle)."""
    weights = torch.randn(x.shape[1], generator=torch.Generator().manual_seed(123))
    return x @ weights


def test_acquire_takes_the_best_unlabelled_and_respects_the_discount():
    scores = torch.tensor([5.0, 4.0, 3.0, 2.0])
    labelled = torch.tensor([True, False, False, False])
    assert acquire(scores, 2, labelled).tolist() == [1, 2]
    assert acquire(scores, 2, labelled, discount=torch.tensor([1.0, 0.1, 1.0, 1.0])).tolist() == [2, 3]


def test_the_ensemble_fits_its_labels_and_its_members_disagree():
    x = fingerprint_matrix(moses_smiles("train", limit=300))
    y = synthetic_oracle(x)
    surrogate = SurrogateEnsemble(members=4, epochs=40, seed=0).fit(x[:200], y[:200])
    mean, std = surrogate.predict(x)
    train_error = (mean[:200] - y[:200]).abs().mean()
    # seed 0: mean absolute error 1.21 on its labels (label std 5.11), 3.03 on the 100 held-out molecules
    assert train_error < 0.5 * y[:200].std()
    assert bool((std > 0).all())  # bootstrap resamples and separate initialisations make the members differ


def test_active_learning_beats_random_screening_at_equal_budget():
    pool = moses_smiles("train", limit=2000)
    x = fingerprint_matrix(pool)
    y = synthetic_oracle(x)
    generator = torch.Generator().manual_seed(0)
    seed_idx = torch.randperm(len(pool), generator=generator)[:32]
    labelled = torch.zeros(len(pool), dtype=torch.bool)
    labelled[seed_idx] = True
    for round_ in range(3):  # 3 rounds x 16 acquisitions, refit from scratch each round
        surrogate = SurrogateEnsemble(members=4, epochs=30, seed=round_).fit(x[labelled], y[labelled])
        labelled[acquire(surrogate.ucb(x, kappa=1.0), 16, labelled)] = True
    budget = int(labelled.sum())  # 80 oracle calls
    random_idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(100))[:budget]
    active_top5 = y[labelled].topk(5).values.mean()
    random_top5 = y[random_idx].topk(5).values.mean()
    # seeds 0..4 (random screening drawn with seed + 100): active top-5 mean 15.2, 18.6, 15.9, 17.7, 13.6
    # against random 12.1, 11.7, 13.2, 12.6, 12.5 (best in the pool 19.5)
    assert active_top5 > random_top5
