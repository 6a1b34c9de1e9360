"""A Bradley-Terry reward model learns synthetic descender preferences and ranks descending above a wall."""

import random

import torch

from anthology.rl.preference_reward import Caption, bradley_terry_loss, pair_accuracy, train_reward_model

GOOD = ["You descend the stairs.", "You climb down the ladder.", "You fall through a trap door!",
        "You descend to a new level.", "There is a staircase down here.", "You see here a staircase down."]
BAD = ["It's solid stone.", "You hear some noises.", "You see here a gold piece.", "The newt bites!",
       "You kill the newt!", "There is an altar here.", "Hello stranger, who are you?", "It's a wall."]


def synthetic_pairs(count, seed):
    """Descender preferences: a message about going down, or a depth increase, beats the rest."""
    rng = random.Random(seed)
    pairs, labels = [], []
    for _ in range(count):
        def caption():
            down = rng.random() < 0.5
            message = rng.choice(GOOD if down else BAD)
            depth = 1.0 if down and rng.random() < 0.7 else 0.0
            return Caption(rng.choice(BAD), message, (depth, 0.0, float(rng.randint(-2, 2)), 0.0, 0.0)), down
        (a, good_a), (b, good_b) = caption(), caption()
        pairs.append((a, b))
        labels.append(0.5 if good_a == good_b else float(good_a))
    return pairs, labels


def test_the_reward_model_learns_synthetic_preferences_and_ranks_descending_first():
    pairs, labels = synthetic_pairs(200, 0)
    model = train_reward_model(pairs, labels, epochs=40, batch_size=50, lr=1e-3, seed=0)
    held_pairs, held_labels = synthetic_pairs(300, 1)
    assert pair_accuracy(model, held_pairs, held_labels) > 0.9  # seeds 0-2: 1.00
    descend = Caption("", "You descend the stairs.", (1.0, 0.0, 0.0, 0.0, 0.0))
    stone = Caption("", "It's solid stone.", (0.0, 0.0, 0.0, 0.0, 0.0))
    r = model.score([descend, stone])
    assert r[0] > r[1]


def test_an_untrained_model_is_near_chance():
    from anthology.rl.preference_reward import RewardModel

    torch.manual_seed(0)
    held_pairs, held_labels = synthetic_pairs(300, 1)
    assert pair_accuracy(RewardModel(), held_pairs, held_labels) < 0.8  # the bar above is not free


def test_bradley_terry_loss_values():
    r1, r2 = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])
    loss = bradley_terry_loss(r1, r2, torch.tensor([1.0, 0.5]))
    expected = (torch.nn.functional.softplus(torch.tensor(-2.0)) + torch.log(torch.tensor(2.0))) / 2
    torch.testing.assert_close(loss, expected)
    assert Caption("a", "You descend.", (1, 0, -2, 0, 0)).text() == (
        'Message: previously seen "a", currently displayed "You descend."; changes: Dlvl +1, HP -2')
