"""EpisodeLog: exact budgets under threads, moving averages, the threshold stop."""

import threading

import pytest

from training.episode_log import EpisodeLog


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


def test_the_threshold_needs_a_full_window_then_ends_the_run():
    log = EpisodeLog(max_episodes=10, stop_at=5.0, window=3)
    recorded = [log.record(0, r, 1) for r in [9, 9, 4, 1, 5, 6, 4, 9]]
    # windows: -, -, 7.33 (solved at the first full window); nothing after it is recorded
    assert [e is not None for e in recorded] == [True, True, True] + [False] * 5
    assert log.solved_at.index == 3 and log.done.is_set()


def test_a_step_budget_ends_the_run_but_keeps_the_episodes_of_its_last_rollout():
    log = EpisodeLog(max_steps=100)
    log.add_steps(60)
    assert not log.done.is_set() and log.progress == pytest.approx(0.6)
    log.add_steps(60)
    assert log.done.is_set() and log.progress == 1.0  # never past the budget
    assert log.record(0, 1.0, 120) is not None


def test_progress_is_the_budget_nearer_its_end():
    log = EpisodeLog(max_episodes=10, max_steps=1000)
    log.add_steps(100)
    log.record(0, 1.0, 100)
    log.record(0, 1.0, 100)
    assert log.progress == pytest.approx(0.2)


@pytest.mark.parametrize("budget", [{"max_episodes": 0}, {"max_steps": -1}])
def test_budgets_must_be_positive(budget):
    with pytest.raises(ValueError, match=next(iter(budget))):
        EpisodeLog(**budget)


def test_a_report_on_a_multiple_of_the_interval_is_not_due_again_at_once():
    from training.callbacks import REPORTS, next_report

    # 4.06M of 7M steps is 0.58 of the budget, 28.999... fiftieths in floating point: a
    # resumed run reported there, then again 80 steps later.
    assert 4_060_000 / 7_000_000 * REPORTS < 29
    assert next_report(4_060_000 / 7_000_000) == pytest.approx(0.6)
    assert next_report(0.0) == pytest.approx(1 / REPORTS)
    assert next_report(0.591) == pytest.approx(0.6)
    assert next_report(0.6) == pytest.approx(0.62)
