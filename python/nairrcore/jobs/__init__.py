"""Batch jobs: Slurm and HTCondor scripts from the platform profiles, sweeps."""
