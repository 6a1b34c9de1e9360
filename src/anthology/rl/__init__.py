"""Reinforcement-learning building blocks: distributions, temperatures, replay, soft actor-critic and soft
Q-learning losses (pure functions), target updates."""
