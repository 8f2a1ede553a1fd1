"""Tests on a real local Slurm cluster and sshd (scripts/lab_up.sh); they need root."""
