"""Fixtures shared by the training tests: synthetic datasets on disk, one thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Callable[..., Path]:
    """``synth(name, size=32, n_train=8, n_val=4, seed=1)``: a built-in synthetic dataset on
    disk, written once per session for each distinct set of arguments."""
    made: dict[tuple, Path] = {}

    def make(name: str, *, size: int = 32, n_train: int = 8, n_val: int = 4, seed: int = 1) -> Path:
        from cg.data import synthesize

        key = (name, size, n_train, n_val, seed)
        if key not in made:
            root = tmp_path_factory.mktemp(f"synth-{name}") / name
            synthesize(name, root, size=size, n_train=n_train, n_val=n_val, seed=seed)
            made[key] = root
        return made[key]

    return make


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny shapes: one thread avoids OpenMP start-up costs on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
