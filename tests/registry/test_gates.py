"""Per-source gates: a confident loss beyond the tolerance blocks; noise and small losses do not."""

from __future__ import annotations

import numpy as np
import pytest

from fakeimage.registry.gates import blocking, source_gates, summary


def _gates(champion_right: list[bool], challenger_right: list[bool], tolerance: float = 0.003):
    sources = np.full(len(champion_right), "FAKE/new")
    return source_gates(
        sources, np.array(champion_right, float), np.array(challenger_right, float), tolerance
    )


def test_a_confident_loss_beyond_the_tolerance_blocks() -> None:
    # 1,000 images: the challenger gets 10 wrong that the champion got right (-1 point).
    champion = [True] * 1000
    challenger = [i >= 10 for i in range(1000)]
    (gate,) = _gates(champion, challenger)
    assert gate.change == pytest.approx(-0.01) and gate.upper_bound < 0
    assert gate.blocks and blocking([gate]) == [gate]
    assert "FAKE/new 100.00% (champion) vs 99.00% (-1.00 points" in gate.describe()
    assert gate.row()["blocks"] is True and "BLOCKS" in summary([gate])


def test_a_loss_within_the_tolerance_does_not_block() -> None:
    champion = [True] * 1000
    challenger = [i >= 3 for i in range(1000)]  # exactly 0.3 points
    (gate,) = _gates(champion, challenger)
    assert gate.change == pytest.approx(-0.003) and not gate.blocks


def test_a_loss_the_images_cannot_tell_from_noise_does_not_block() -> None:
    # One image of 100 is 1 point, beyond the tolerance, but one image might go either way.
    (gate,) = _gates([True] * 100, [i != 0 for i in range(100)])
    assert gate.change == pytest.approx(-0.01) and gate.upper_bound == 0 and not gate.blocks


def test_gains_and_equal_scores_never_block_and_each_source_is_judged_alone() -> None:
    sources = np.array(["REAL"] * 500 + ["FAKE"] * 500)
    champion = np.r_[np.ones(500), np.zeros(500)]
    challenger = np.r_[np.r_[np.zeros(50), np.ones(450)], np.ones(500)]
    gates = {gate.source: gate for gate in source_gates(sources, champion, challenger, 0.003)}
    assert gates["FAKE"].change == 1 and not gates["FAKE"].blocks
    assert gates["REAL"].change == pytest.approx(-0.1) and gates["REAL"].blocks
    assert source_gates(sources, champion, champion, 0.003)[0].blocks is False


def test_a_source_too_small_to_judge_is_reported_but_never_blocks() -> None:
    (gate,) = _gates([True] * 5, [False] * 5)  # all five lost: the bootstrap is certain
    assert gate.change == -1 and gate.upper_bound < 0 and not gate.blocks
    (gate,) = _gates([True] * 30, [False] * 30)
    assert gate.blocks
