"""learn() as Stable-Baselines3 and Keras users call it: SB3's signature, callbacks of both
worlds (Keras's EarlyStopping, CSVLogger; SB3's _on_step returning False), the progress bar,
num_timesteps, and no files unless asked (training/callbacks.py, a3c_keras/callbacks.py)."""

import csv
from types import SimpleNamespace

import keras
import pytest

from a3c_keras import A2C, BaseCallback, Callback, ConfigError, ProgressLogger

# A2C's defaults: 8 envs, 8 steps a rollout.
ROLLOUT = 64


def agent(**settings):
    return A2C("MlpPolicy", "CartPole-v1", verbose=0, seed=0, **settings)


def test_keras_early_stopping_and_csv_logger_see_each_evaluation_as_an_epoch(tmp_path):
    model = agent(eval_interval=ROLLOUT * 4, eval_episodes=2)
    csv_path = tmp_path / "epochs.csv"
    # Never better by 1e9: the second evaluation is one without improvement, patience 1.
    stopper = keras.callbacks.EarlyStopping(monitor="eval_return", mode="max", min_delta=1e9)
    saver = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "epoch{epoch}.weights.h5"), save_weights_only=True
    )
    keras_callbacks = [stopper, keras.callbacks.CSVLogger(str(csv_path)), saver]
    model.learn(20_000, callback=[*keras_callbacks, keras.callbacks.TerminateOnNaN()])
    assert stopper.stopped_epoch == 1
    assert sorted(p.name for p in tmp_path.glob("*.weights.h5")) == [
        "epoch1.weights.h5",
        "epoch2.weights.h5",
    ]
    assert model.num_timesteps < 20_000 // 4  # stopped, well before the budget
    with open(csv_path) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows[:2]] == ["0", "1"]
    first = rows[0]
    assert float(first["eval_return"]) == model.evaluations[0].result.mean
    assert {"episode_return_mean", "loss", "entropy", "env_steps"} <= set(first)
    assert int(first["env_steps"]) == model.evaluations[0].env_steps


def test_a_keras_callback_without_evaluations_ends_an_epoch_each_fiftieth():
    epochs, batches = [], []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs.append((epoch, logs))

        def on_train_batch_end(self, batch, logs=None):
            batches.append(logs["loss"])

    model = agent(eval_interval=0)
    model.learn(ROLLOUT * 100, callbacks=Watch())
    assert 45 <= len(epochs) <= 51 and [e for e, _ in epochs] == list(range(len(epochs)))
    assert "eval_return" not in epochs[0][1] and "episode_return_mean" in epochs[-1][1]
    assert len(batches) == 100  # one a update


def test_an_sb3_callback_returning_false_stops_and_sees_its_locals():
    class StopAfterThree(BaseCallback):
        def _on_step(self):
            self.seen = (self.locals["update"]["loss"], self.locals["infos"])
            return self.n_calls < 3

    callback = StopAfterThree()
    model = agent(eval_interval=0)
    model.learn(20_000, callback=callback)
    assert callback.n_calls == 3 and callback.model is model
    assert model.num_timesteps == 3 * ROLLOUT == callback.num_timesteps
    assert isinstance(callback.seen[0], float)
    assert callback.locals["total_timesteps"] == 20_000


def test_a_callback_method_returning_false_stops_the_run():
    class Two(Callback):
        def on_update_end(self, index, logs):
            return index < 2

    model = agent(eval_interval=0)
    model.learn(20_000, callbacks=[Two()])
    assert model.num_timesteps == 2 * ROLLOUT


def test_num_timesteps_restarts_or_goes_on_as_in_sb3():
    model = agent(eval_interval=0)
    model.learn(ROLLOUT * 10)
    assert model.num_timesteps == ROLLOUT * 10
    model.learn(ROLLOUT * 10, reset_num_timesteps=False)
    assert model.num_timesteps == ROLLOUT * 20
    model.learn(ROLLOUT * 5)
    assert model.num_timesteps == ROLLOUT * 5
    assert model.trainer.episode_log.env_steps == ROLLOUT * 25  # trained each time
    with pytest.raises(ConfigError, match="reset_num_timesteps='no': must be True or False"):
        model.learn(ROLLOUT, reset_num_timesteps="no")
    with pytest.raises(ConfigError, match="log_interval=0: must be an integer >= 1"):
        model.learn(ROLLOUT, log_interval=0)
    with pytest.raises(ConfigError, match="is not a callback"):
        model.learn(ROLLOUT, callback=print)


def test_the_progress_bar_shows_steps_rate_and_eta(capsys):
    agent(eval_interval=0).learn(ROLLOUT * 20, progress_bar=True)
    out = capsys.readouterr().out
    # Counted from the first update (its compiling is no env step's time), to the budget.
    assert f"{ROLLOUT * 19}/{ROLLOUT * 19}" in out and "/env step" in out
    assert out.count(f"{ROLLOUT * 19}/{ROLLOUT * 19}") == 1  # the last line once
    assert "mean(100)" in out and "entropy" in out


def test_log_interval_sets_the_progress_lines(caplog):
    model = A2C("CartPole-v1", seed=0, eval_interval=0)
    with caplog.at_level("INFO"):
        model.learn(ROLLOUT * 20, log_interval=5)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("env step")]
    # Updates 10, 15 and 20 (the last is the end's too); the one at 5 starts the pace.
    assert len(lines) == 3 and lines[-1].startswith(f"env step {ROLLOUT * 20}/")


def test_from_python_nothing_is_written_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the same script twice: never refused
        model = agent(eval_interval=ROLLOUT * 5, eval_episodes=2)
        model.learn(ROLLOUT * 10)
    assert list(tmp_path.iterdir()) == []
    best = model.trainer.best_weights
    assert best is not None and model.model_file is None
    model.model.set_weights([w * 0 for w in best])
    model.load_best()
    assert all((a == b).all() for a, b in zip(model.model.get_weights(), best, strict=True))
    # Asked: TensorBoard's event files, each learn a run of its own as SB3's.
    logged = agent(eval_interval=0, tensorboard_log=tmp_path / "tb")
    logged.learn(ROLLOUT * 4)
    logged.learn(ROLLOUT * 4, tb_log_name="more")
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["A2C_1", "more_2"]
    assert any((tmp_path / "tb" / "A2C_1").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tb"]


def test_the_end_of_the_budget_is_reported_once_though_a3c_s_workers_step_on():
    reports = []

    class Lines(ProgressLogger):
        def report(self, steps_per_second, eta, final):
            reports.append((self.trainer.episode_log.env_steps, final))

    # The last episode of the budget ends at 900 env steps; the other worker steps on to 905
    # before it stops: the end was reported at 900, and is not again.
    log = SimpleNamespace(progress=0.5, env_steps=400, episodes=[object()])
    lines = Lines()
    lines.set_trainer(SimpleNamespace(episode_log=log, train_seconds=1.0))
    lines.on_train_begin({})
    lines.on_update_end(1, {})  # the pace starts
    log.progress, log.env_steps, lines.trainer.train_seconds = 1.0, 900, 2.0
    lines.on_update_end(2, {})
    log.env_steps = 905
    lines.on_train_end({})
    assert reports == [(900, False)]
