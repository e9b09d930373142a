"""EpisodeLog: exact episode budgets under threads, moving averages, best-model choice."""

import threading

import pytest

from agents.episode_log import EpisodeLog


def test_many_threads_record_exactly_the_budget():
    log = EpisodeLog(max_episodes=500)
    accepted = []

    def worker(worker_id):
        while not log.done.is_set():
            log.add_steps(3)
            episode = log.record(worker_id, 1.0, 3)
            if episode is not None:
                accepted.append(episode.index)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.episodes) == 500
    assert sorted(accepted) == list(range(1, 501))
    assert log.record(0, 1.0, 1) is None


def test_moving_average_starts_at_the_first_return_then_smooths():
    log = EpisodeLog(max_episodes=3)
    first = log.record(0, 10.0, 10)
    second = log.record(0, 20.0, 20)
    assert first.moving_average == 10.0
    assert second.moving_average == pytest.approx(0.99 * 10 + 0.01 * 20)
    assert second.recent_mean == 15.0


def test_best_needs_a_full_window_and_ties_count():
    log = EpisodeLog(max_episodes=10, window=3)
    flags = [log.record(0, r, 1).is_best for r in [5, 5, 5, 4, 6, 5, 5]]
    # windows: -, -, 5 (best), 4.67, 5 (tie), 5 (tie), 5.33 (best)
    assert flags == [False, False, True, False, True, True, True]


def test_a_budget_shorter_than_the_window_still_picks_a_best():
    log = EpisodeLog(max_episodes=2, window=100)
    assert [log.record(0, r, 1).is_best for r in [1.0, 2.0]] == [False, True]


def test_budget_must_be_positive():
    with pytest.raises(ValueError, match="max_episodes"):
        EpisodeLog(0)
