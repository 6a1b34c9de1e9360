"""Shared foundations: errors, seeding, devices, configs, run directories, checkpoints, claims, registry."""
