"""The two ways a rollout command stops early: bad input (exit 2) and a failed operation (exit 1)."""

from __future__ import annotations


class InputError(Exception):
    """Bad input found before any call that changes anything: the CLI prints it and exits 2."""

    exit_status = 2


class RolloutFailed(Exception):
    """An AWS operation or a check failed: the CLI prints it and exits 1."""

    exit_status = 1
