"""Reinforcement-learning building blocks: distributions, temperatures, replay, soft actor-critic, TD3 and soft
Q-learning losses (pure functions), target updates."""
