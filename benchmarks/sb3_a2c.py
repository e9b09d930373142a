"""The peers for benchmarks/benchmark.py: SB3's A2C, sb3-contrib's RecurrentPPO, RL Zoo's settings.

    pip install torch stable-baselines3 sb3-contrib    # not dependencies of this project
    python benchmarks/sb3_a2c.py --seed=0 --save_dir=/tmp/sb3
    python benchmarks/sb3_a2c.py --env=Pendulum-v1 --seed=0 --save_dir=/tmp/sb3

Settings (``ZOO``) are RL Zoo's ``hyperparams/a2c.yml``: CartPole-v1 (8 envs, ent_coef 0, SB3's
A2C defaults otherwise: RMSprop 7e-4, n_steps 5, max_grad_norm 0.5), stopped as soon as the last
100 training episodes average the env's threshold (475), as ``a2c_cartpole.py
--stop-at-threshold`` is; Pendulum-v1 (8 envs, n_steps 8, gamma 0.9, GAE 0.9, vf 0.4, RMSprop
with lr linearly decayed from 7e-4, gSDE with log_std_init -2, VecNormalize of observations and
rewards) for the zoo's 1M steps; LunarLander-v3 (8 envs, gamma 0.995, n_steps 5, lr linearly
decayed from 8.3e-4, ent_coef 1e-5) for the zoo's 200k steps (or ``--max_steps``);
MountainCar-v0 (16 envs, ent_coef 0, VecNormalize) for 1M steps; Atari games (``ALE/*``: 16
envs, ``CnnPolicy``, ent_coef 0.01, vf_coef 0.25, ``RMSpropTFLike`` with eps 1e-5, SB3's
``AtariWrapper`` and 4 frames stacked; the v5 game with ``frameskip=1``, the wrapper skipping 4,
sticky actions as v5 has them) for 10M steps. CartPoleNoVel-v1 (registered by
this project) has no zoo A2C entry; its peer is sb3-contrib's RecurrentPPO on the zoo's
``ppo_lstm`` settings (8 envs, n_steps 32, batch 256, 20 epochs, gamma 0.98, GAE 0.8, lr and clip
range decayed linearly from 1e-3 and 0.2, a 64-unit LSTM for the actor and one for the critic,
observations normalised) for the zoo's 100k steps. MountainCarContinuous-v0 (4 envs, n_steps
100, gSDE resampled every 16 steps, observations normalised) for 100k steps and BipedalWalker-v3
(16 envs, n_steps 8, GAE 0.9, vf 0.4, RMSprop lin_9.6e-4, gSDE with log_std_init -2,
observations normalised) for 5M: the zoo's gSDE settings. ``--eval_interval`` and
``--stop_at_eval_return`` evaluate greedily during training (100 episodes, SB3's
``EvalCallback``) and stop at a target, as ``a2c_cartpole.py``'s flags of those names do.
Prints the lines benchmark.py reads and writes the same episode CSV, so both are measured
the same way in one run. The greedy evaluation is of the final model, on 100 new seeded
episodes (with VecNormalize's statistics frozen and rewards raw).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import signal
import sys
import time
from pathlib import Path
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import (
    BaseCallback,
    CallbackList,
    EvalCallback,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.env_util import make_atari_env, make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.vec_env import VecFrameStack, VecNormalize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmark import PEER_STATE  # noqa: E402  (the run's parts and clock, as benchmark.py reads them)

import utils.envs  # noqa: E402, F401  (registers CartPoleNoVel-v1)
from utils.checkpoint import run_files  # noqa: E402
from utils.files import atomic_write  # noqa: E402
from utils.provenance import FINISHED, RUNNING, STOPPED, PartClock  # noqa: E402

# The model and its optimizer, for --resume.
PEER_MODEL = "sb3_model.zip"


def linear(start: float):
    """RL Zoo's ``lin_<start>``: the learning rate falls linearly to 0 over the run."""
    return lambda progress_remaining: progress_remaining * start


class Zoo(NamedTuple):
    """RL Zoo's settings for one env."""

    settings: dict  # keyword arguments of the algorithm
    envs: int
    steps: int  # the zoo's budget
    normalize: bool = False  # VecNormalize of observations (and rewards, with norm_reward)
    stop_at_threshold: bool = False  # stop once the last 100 training episodes average it
    norm_reward: bool = True
    algorithm: type = A2C
    policy: str = "MlpPolicy"
    atari: bool = False  # make_atari_env and 4 frames stacked


ZOO = {
    "CartPole-v1": Zoo({"ent_coef": 0.0}, 8, 500_000, stop_at_threshold=True),
    "LunarLander-v3": Zoo(
        {
            "gamma": 0.995,
            "n_steps": 5,
            "learning_rate": linear(0.00083),
            "ent_coef": 0.00001,
        },
        8,
        200_000,
    ),
    "MountainCar-v0": Zoo({"ent_coef": 0.0}, 16, 1_000_000, normalize=True),
    # No zoo entry for the toy-text envs: SB3's A2C defaults with 8 envs (its Discrete
    # observations one-hot, as here), on the budgets of this project's presets.
    "FrozenLake-v1": Zoo({}, 8, 300_000),
    "Taxi-v4": Zoo({}, 8, 1_000_000),
    "CartPoleNoVel-v1": Zoo(
        {
            "batch_size": 256,
            "clip_range": linear(0.2),
            "ent_coef": 0.0,
            "gae_lambda": 0.8,
            "gamma": 0.98,
            "learning_rate": linear(0.001),
            "n_epochs": 20,
            "n_steps": 32,
            "policy_kwargs": {
                "ortho_init": False,
                "activation_fn": torch.nn.ReLU,
                "lstm_hidden_size": 64,
                "enable_critic_lstm": True,
                "net_arch": {"pi": [64], "vf": [64]},
            },
        },
        8,
        100_000,
        normalize=True,
        norm_reward=False,
        algorithm=RecurrentPPO,
        policy="MlpLstmPolicy",
    ),
    "Pendulum-v1": Zoo(
        {
            "ent_coef": 0.0,
            "max_grad_norm": 0.5,
            "n_steps": 8,
            "gae_lambda": 0.9,
            "vf_coef": 0.4,
            "gamma": 0.9,
            "use_rms_prop": True,
            "normalize_advantage": False,
            "learning_rate": linear(7e-4),
            "use_sde": True,
            "policy_kwargs": {"log_std_init": -2, "ortho_init": False},
        },
        8,
        1_000_000,
        normalize=True,
    ),
    # The zoo's gSDE entries (its released models' settings: ortho_init False, observations
    # normalised, rewards raw).
    "MountainCarContinuous-v0": Zoo(
        {
            "ent_coef": 0.0,
            "n_steps": 100,
            "use_sde": True,
            "sde_sample_freq": 16,
            "policy_kwargs": {"log_std_init": 0.0, "ortho_init": False},
        },
        4,
        100_000,
        normalize=True,
        norm_reward=False,
    ),
    "BipedalWalker-v3": Zoo(
        {
            "ent_coef": 0.0,
            "max_grad_norm": 0.5,
            "n_steps": 8,
            "gae_lambda": 0.9,
            "vf_coef": 0.4,
            "gamma": 0.99,
            "use_rms_prop": True,
            "normalize_advantage": False,
            "learning_rate": linear(0.00096),
            "use_sde": True,
            "policy_kwargs": {"log_std_init": -2, "ortho_init": False},
        },
        16,
        5_000_000,
        normalize=True,
        norm_reward=False,
    ),
    "ALE/Pong-v5": Zoo(
        {
            "ent_coef": 0.01,
            "vf_coef": 0.25,
            "policy_kwargs": {"optimizer_class": RMSpropTFLike, "optimizer_kwargs": {"eps": 1e-5}},
        },
        16,
        10_000_000,
        policy="CnnPolicy",
        atari=True,
    ),
}
# RL Zoo's frames, where the zoo measured its Atari results: the v4 game without sticky actions.
ZOO["PongNoFrameskip-v4"] = ZOO["ALE/Pong-v5"]


def make_envs(env_id: str, zoo: Zoo, seed: int, n_envs: int | None = None):
    """The vector env of ``zoo``'s settings (``n_envs`` of them, default the zoo's): for Atari,
    SB3's ``make_atari_env`` with 4 frames stacked; otherwise ``make_vec_env``."""
    n_envs = n_envs or zoo.envs
    if not zoo.atari:
        return make_vec_env(env_id, n_envs=n_envs, seed=seed)
    import ale_py

    gym.register_envs(ale_py)
    # The v5 game skips frames itself: the wrapper skips them instead, as the zoo does.
    kwargs = {"frameskip": 1} if env_id.startswith("ALE/") else {}
    envs = make_atari_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=kwargs)
    return VecFrameStack(envs, n_stack=4)


class StopAtThreshold(BaseCallback):
    """Records finished episodes; stops when the last 100 average ``threshold`` (if any)."""

    def __init__(self, threshold: float | None, rows: list[dict] = (), seconds: float = 0.0):
        super().__init__()
        self.threshold = threshold
        self.rows: list[dict] = list(rows)  # a resumed run's episodes so far
        self.returns: list[float] = [float(row["episode_return"]) for row in self.rows]
        self.start = time.perf_counter() - seconds  # the training clock goes on

    @property
    def seconds(self) -> float:
        """Seconds of training of the run so far, resumed parts included."""
        return time.perf_counter() - self.start

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:
                self.returns.append(float(info["episode"]["r"]))
                recent = self.returns[-100:]
                self.rows.append(
                    {
                        "index": len(self.returns),
                        "episode_return": self.returns[-1],
                        "recent_mean": float(np.mean(recent)),
                        "env_steps": self.num_timesteps,
                        "seconds": self.seconds,
                    }
                )
        if self.threshold is None or len(self.returns) < 100:
            return True
        return self.rows[-1]["recent_mean"] < self.threshold


class Checkpoint(BaseCallback):
    """Keeps the run resumable (``--resume``): every ``every`` env steps (0: only at the end)
    and when SIGTERM or SIGINT stops it, writes the model with its optimizer
    (``sb3_model.zip``), the episode CSV and ``PEER_STATE`` (the run's parts, as
    ``training.parts`` records ours, and its seconds of training), each whole or not at all.
    A signal stops training after the current step (the callback returns False)."""

    def __init__(
        self, save_dir: Path, env_id: str, episodes: StopAtThreshold, parts, seconds, every
    ):
        super().__init__()
        self.save_dir, self.env_id, self.episodes = save_dir, env_id, episodes
        self.parts: list[dict] = parts
        self.resumed_seconds = seconds  # the run's seconds of training before this part
        self.every = every
        self.clock = PartClock()
        self.signal: int | None = None
        self._next = 0
        self._previous: dict = {}  # the signal handlers before training

    def _on_training_start(self) -> None:
        self.clock.begin(self.parts, self.num_timesteps, self.resumed_seconds)
        self._next = self.num_timesteps + self.every
        self._previous = {
            signum: signal.signal(signum, self._stop) for signum in (signal.SIGTERM, signal.SIGINT)
        }

    def _on_training_end(self) -> None:
        for signum, previous in self._previous.items():  # a signal after training acts at once
            signal.signal(signum, previous)

    def _stop(self, signum, frame) -> None:
        self.signal = signum

    def _on_step(self) -> bool:
        if self.every and self.num_timesteps >= self._next:
            self.save(RUNNING)
            self._next += self.every
        return self.signal is None

    def save(self, outcome: str) -> None:
        """Writes the run's state now, this part's ``outcome`` recorded."""
        seconds = self.episodes.seconds
        self.parts = self.clock.record(self.parts, self.num_timesteps, seconds, outcome)
        self.save_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.save_dir / PEER_MODEL, self.model.save)
        write_episodes(self.save_dir, self.env_id, self.episodes.rows)
        state = {"env": self.env_id, "train_seconds": seconds, "parts": self.parts}
        write_text(self.save_dir / PEER_STATE, json.dumps(state, indent=1))


def write_text(path: Path, text: str) -> None:
    """Writes ``path`` whole or not at all."""
    atomic_write(path, lambda temporary: Path(temporary).write_text(text))


def write_episodes(save_dir: Path, env_id: str, rows: list[dict]) -> None:
    """The episode CSV, named as ``a2c_cartpole.py`` names it, written whole or not at all."""
    if not rows:
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(run_files(save_dir, env_id).episodes, text.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1", choices=sorted(ZOO))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save_dir", required=True)
    parser.add_argument("--max_steps", type=int, default=0, help="default: the zoo's budget")
    parser.add_argument(
        "--eval_interval",
        type=int,
        default=0,
        help="env steps between greedy evaluations of 100 episodes (SB3's EvalCallback); 0: none",
    )
    parser.add_argument(
        "--eval_episodes", type=int, default=100, help="episodes of the final greedy evaluation"
    )
    parser.add_argument(
        "--ent_coef", type=float, default=None, help="the entropy bonus; default: the zoo's"
    )
    parser.add_argument(
        "--stop_at_eval_return",
        type=float,
        default=None,
        help="stop at the first evaluation whose mean reaches this (StopTrainingOnRewardThreshold)",
    )
    parser.add_argument(
        "--checkpoint_every",
        type=int,
        default=0,
        help="env steps between checkpoints of the run for --resume (0: at the end, and when "
        "SIGTERM or SIGINT stops it)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --save_dir (its model, optimizer, episodes and parts) to "
        "--max_steps in all",
    )
    args = parser.parse_args()
    save_dir = Path(args.save_dir)
    zoo = ZOO[args.env]
    settings = zoo.settings
    if args.ent_coef is not None:
        settings = {**settings, "ent_coef": args.ent_coef}
    if zoo.normalize and (args.resume or args.checkpoint_every):
        sys.exit("error: --resume and --checkpoint_every: not for envs normalised by VecNormalize")
    rows, parts, seconds = [], [], 0.0
    if args.resume:
        state_file = save_dir / PEER_STATE
        if not state_file.is_file():
            sys.exit(f"error: --resume: no run to resume in {save_dir} (no {PEER_STATE})")
        state = json.loads(state_file.read_text())
        if state["env"] != args.env:
            sys.exit(f"error: --resume: the run in {save_dir} is on {state['env']}, not {args.env}")
        episodes = run_files(save_dir, args.env).episodes
        with open(episodes) if episodes.is_file() else io.StringIO() as handle:
            rows = [
                {name: float(value) if "." in value else int(value) for name, value in row.items()}
                for row in csv.DictReader(handle)
            ]
        parts, seconds = state["parts"], state["train_seconds"]
    envs = make_envs(args.env, zoo, args.seed + 1_000 * len(parts))  # new episodes each part
    evaluation = make_envs(args.env, zoo, args.seed + 10_000, n_envs=1)
    if zoo.normalize:
        envs = VecNormalize(envs, gamma=settings.get("gamma", 0.99), norm_reward=zoo.norm_reward)
        evaluation = VecNormalize(evaluation, training=False, norm_reward=False)
    if args.resume:
        model = zoo.algorithm.load(save_dir / PEER_MODEL, env=envs, device="cpu")
    else:
        model = zoo.algorithm(zoo.policy, envs, seed=args.seed, device="cpu", **settings)
    threshold = gym.spec(args.env).reward_threshold if zoo.stop_at_threshold else None
    callback = StopAtThreshold(threshold, rows, seconds)
    checkpoint = Checkpoint(save_dir, args.env, callback, parts, seconds, args.checkpoint_every)
    callbacks = [callback, checkpoint]
    if args.eval_interval:  # as a2c_cartpole.py's --eval_interval and --stop_at_eval_return
        stop = None
        if args.stop_at_eval_return is not None:
            stop = StopTrainingOnRewardThreshold(args.stop_at_eval_return)
        checks = make_envs(args.env, zoo, args.seed + 20_000, n_envs=1)
        if zoo.normalize:  # EvalCallback copies the training statistics into it
            checks = VecNormalize(checks, training=False, norm_reward=False)
        callbacks.append(
            EvalCallback(
                checks,
                callback_on_new_best=stop,
                eval_freq=max(args.eval_interval // envs.num_envs, 1),
                n_eval_episodes=100,
                deterministic=True,
                verbose=0,
            )
        )
    budget = args.max_steps or zoo.steps
    model.learn(
        total_timesteps=max(budget - model.num_timesteps, 0),
        callback=CallbackList(callbacks),
        reset_num_timesteps=not args.resume,
    )
    steps = model.num_timesteps
    print(f"trained {len(callback.rows)} episodes, {steps} env steps in {callback.seconds:.1f} s")
    if not zoo.normalize:  # (VecNormalize's statistics are not kept: no resume there)
        checkpoint.save(FINISHED if checkpoint.signal is None else STOPPED)
        print(f"checkpoint: {save_dir / PEER_MODEL} (continue with --resume)")
    if checkpoint.signal is not None:
        sys.exit(
            f"error: interrupted by {signal.Signals(checkpoint.signal).name}; the run was saved"
        )
    if zoo.normalize:
        evaluation.obs_rms = envs.obs_rms  # the statistics the policy was trained with
    episodes = args.eval_episodes
    returns, _ = evaluate_policy(
        model, evaluation, n_eval_episodes=episodes, deterministic=True, return_episode_rewards=True
    )
    digits = 1 if np.max(np.abs(returns)) >= 10 else 3  # as a2c_cartpole.py's report
    print(
        f"greedy return over {episodes} episodes: {np.mean(returns):.{digits}f} ± "
        f"{np.std(returns):.{digits}f}"
    )
    write_episodes(save_dir, args.env, callback.rows)


if __name__ == "__main__":
    main()
