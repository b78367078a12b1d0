"""Many SPICE episodes at once: Gymnasium vector envs and a batched two-role rollout.

## Vector environments

``SpiceCorpus-v0`` works with both of Gymnasium's vector envs. Async ones need one setting,
which :func:`make_vector_env` applies for you::

    import gymnasium as gym
    import spice_env
    from spice_env.integrations.vector import make_vector_env

    envs = make_vector_env(8, "sync")    # one process
    envs = make_vector_env(8, "async")   # one worker process per sub-env
    # the same by hand:
    envs = gym.make_vec("SpiceCorpus-v0", num_envs=8, vectorization_mode="async",
                        vector_kwargs={"shared_memory": False})

Why ``shared_memory=False`` for async: Gymnasium's shared memory stores a ``Text``
observation as a fixed array of ``max_length`` charset indices, so every document comes back
padded to ``max_observation_chars`` (1,000,000) with ``"0"`` characters and characters outside
the sample charset are lost. Pipes carry the strings intact.

Sub-envs fall out of step as soon as one writes an invalid task; the core env leaves unknown
info values out (no ``task`` before one is written) instead of setting them to ``None``, so
Gymnasium batches them with ``_key`` masks.

Observations come back batched per key (``obs["role"]`` and ``obs["stage"]`` are arrays,
``obs["text"]`` a tuple of strings), infos as Gymnasium's dict of arrays with ``_key``
masks; :func:`unbatch` turns either back into one dict per sub-env. ``reset(seed=s)`` seeds
sub-env ``i`` with ``s + i``, so sync and async runs with the same seeds and the same policies
give the same trajectories.

## Autoreset

Gymnasium 1.x defaults to ``AutoresetMode.NEXT_STEP``: when sub-env ``i`` terminates at step
``t``, step ``t`` returns its terminal observation, reward and info (``info["episode_summary"]`` holds
the episode summary, directly in the step's infos, not under ``final_info``); at step ``t + 1``
its action is *ignored*, it resets, and it returns the first observation of a new episode with
reward 0 and ``terminated=False``. Policies should therefore not be queried for a sub-env on
the step after it ended (an LLM call would be wasted); :func:`rollout_vector` skips them. The
other modes (``vector_kwargs={"autoreset_mode": "SameStep"}``: the summary is in
``infos["final_info"]["episode_summary"]``; ``"Disabled"``: reset finished sub-envs yourself with
``options={"reset_mask": done}``) are handled by :func:`rollout_vector` too.

## Batched rollout

:func:`rollout_vector` plays two policies over a vector env with one ``act_batch`` call per
role per step, which is what makes LLM policies efficient: every sub-env whose Challenger is
to act is served by a single batched generation, and likewise for the Reasoner. With
``prefetch_answers=True`` (the default) a new task's K answers are all requested in that
step's Reasoner call (K samples of the same prompt, which inference servers cache well), then
fed to the env one per step.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from spice_env.policies.base import Policy
from spice_env.rollout import Turn, dispatch, policy_act

__all__ = ["VectorRollout", "make_vector_env", "rollout_vector", "unbatch"]


# ---------------------------------------------------------------------- making vector envs
def make_vector_env(
    num_envs: int,
    vectorization_mode: str = "sync",
    *,
    vector_kwargs: dict[str, Any] | None = None,
    **env_kwargs: Any,
) -> VectorEnv:
    """``gym.make_vec("SpiceCorpus-v0", ...)``, with ``shared_memory=False`` for async envs.

    Args:
        num_envs: Number of sub-envs.
        vectorization_mode: ``"sync"`` (one process) or ``"async"`` (a worker process per
            sub-env).
        vector_kwargs: Passed to the vector env (e.g. ``{"autoreset_mode": "SameStep"}``);
            async envs get ``shared_memory=False`` unless it is given.
        **env_kwargs: Keyword arguments of ``CorpusSelfPlayEnv``.
    """
    import spice_env

    vector_kwargs = dict(vector_kwargs or {})
    if vectorization_mode == "async":
        # Shared memory would pad and mangle the text observations (see the module docstring).
        vector_kwargs.setdefault("shared_memory", False)
    return gym.make_vec(
        spice_env.ENV_ID,
        num_envs=num_envs,
        vectorization_mode=vectorization_mode,
        vector_kwargs=vector_kwargs,
        **env_kwargs,
    )


# ---------------------------------------------------------------------- unbatching
def _plain(value: Any) -> Any:
    # Gymnasium stores info values in arrays typed after the first sub-env's value, so a
    # `None` beside a float comes back as NaN. The core env never emits NaN itself, so NaN
    # here always stands for `None`.
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _unbatch_one(batched: Mapping[str, Any], index: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in batched.items():
        if key.startswith("_") and key[1:] in batched:
            continue  # a presence mask, not a value
        mask = batched.get(f"_{key}")
        if mask is not None and not bool(mask[index]):
            continue  # this sub-env did not report the key at this step
        if isinstance(value, Mapping):
            out[key] = _unbatch_one(value, index)
        else:
            out[key] = _plain(value[index])
    return out


def unbatch(batched: Mapping[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Split a vector env's batched observation or info dict into one dict per sub-env.

    Keys a sub-env did not report (its ``_key`` mask is False) are left out of its dict;
    nested dicts (``info["rewards"]``, ``info["episode_summary"]``) are split recursively; numpy
    scalars become Python scalars.

    Caveat: Gymnasium types each info array after the first sub-env that reports the key, so
    a value of ``None`` next to a float reads back as ``None`` here (via NaN), but ``None``
    next to a bool reads back as ``False``. The core env leaves unknown values out instead of
    sending ``None``, so this only concerns values nested inside them.

    Args:
        batched: ``obs`` or ``infos`` as returned by ``VectorEnv.reset`` / ``step``.
        num_envs: Number of sub-envs.

    Returns:
        A list of ``num_envs`` plain dicts.
    """
    return [_unbatch_one(batched, index) for index in range(num_envs)]


# ---------------------------------------------------------------------- rollout
@dataclass
class VectorRollout:
    """What :func:`rollout_vector` collected.

    Attributes:
        episodes: ``info["episode_summary"]`` summaries of finished episodes, in the order they
            finished (ties broken by sub-env index).
        env_indices: The sub-env each episode ran in.
        steps: Vector steps taken.
        policy_calls: ``act_batch`` calls per role (at most one per role per step).
        actions_generated: Actions returned per role (the total batch sizes).
    """

    episodes: list[dict[str, Any]] = field(default_factory=list)
    env_indices: list[int] = field(default_factory=list)
    steps: int = 0
    policy_calls: dict[str, int] = field(default_factory=lambda: {"challenger": 0, "reasoner": 0})
    actions_generated: dict[str, int] = field(
        default_factory=lambda: {"challenger": 0, "reasoner": 0}
    )


def _autoreset_mode(envs: VectorEnv) -> AutoresetMode:
    mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    return mode if isinstance(mode, AutoresetMode) else AutoresetMode(mode)


def rollout_vector(
    envs: VectorEnv,
    challenger: Policy,
    reasoner: Policy,
    num_episodes: int,
    *,
    seed: int | Sequence[int] | None = None,
    options: dict[str, Any] | None = None,
    prefetch_answers: bool = True,
    max_steps: int | None = None,
) -> VectorRollout:
    """Play ``num_episodes`` episodes over a vector env of ``SpiceCorpus-v0``.

    Each step makes at most one ``challenger.act_batch`` call (for every sub-env at a
    Challenger turn) and one ``reasoner.act_batch`` call (for every sub-env at a Reasoner
    turn that needs a new answer). Sub-envs that are about to autoreset are not queried.

    Args:
        envs: A vector env of ``SpiceCorpus-v0`` (:func:`make_vector_env` or
            ``gym.make_vec``), sync or async, any autoreset mode.
        challenger: Policy for the Challenger turns.
        reasoner: Policy for the Reasoner turns.
        num_episodes: Episodes to collect; the rollout stops once that many have finished
            (episodes still running then are dropped).
        seed: Passed to the first ``envs.reset``; sub-env ``i`` gets ``seed + i``.
        options: Passed to every reset (e.g. ``{"document_id": ...}``).
        prefetch_answers: Request all remaining answers to a task in one batch when its
            Reasoner turns begin, instead of one answer per step.
        max_steps: Safety limit on vector steps (default: ``100 * num_episodes + 100``).

    Returns:
        A :class:`VectorRollout` with the episode summaries and call counts.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes={num_episodes} must be at least 1")
    num_envs = envs.num_envs
    mode = _autoreset_mode(envs)
    challenger_act, reasoner_act = policy_act(challenger), policy_act(reasoner)
    limit = max_steps if max_steps is not None else 100 * num_episodes + 100

    observations, batched_infos = envs.reset(seed=seed, options=dict(options or {}) or None)
    obs_list, info_list = unbatch(observations, num_envs), unbatch(batched_infos, num_envs)
    # NEXT_STEP: sub-envs that ended at the previous step; their next action is ignored.
    pending_reset = np.zeros(num_envs, dtype=bool)
    answers: list[deque[str]] = [deque() for _ in range(num_envs)]
    result = VectorRollout()

    while len(result.episodes) < num_episodes:
        if result.steps >= limit:
            raise RuntimeError(
                f"rollout_vector took {limit} steps without finishing {num_episodes} episodes; "
                "raise max_steps if the episodes are legitimately long"
            )
        actions = [""] * num_envs
        live = [i for i in range(num_envs) if not pending_reset[i]]

        # -- Challenger turns: one batched call --
        turns = [
            Turn.from_env(obs_list[i], info_list[i], episode=i)
            for i in live
            if info_list[i]["role"] == "challenger"
        ]
        if turns:
            result.policy_calls["challenger"] += dispatch(challenger_act, turns, by_stage=False)
            result.actions_generated["challenger"] += len(turns)
            for turn in turns:
                actions[turn.episode] = turn.text

        # -- Reasoner turns: one batched call for every sub-env that needs answers --
        turn_envs = [i for i in live if info_list[i]["role"] == "reasoner"]
        needy = [i for i in turn_envs if not answers[i]]
        if needy:
            # Each remaining attempt has its own view (multiple-choice options are shuffled
            # per attempt); without prefetching only the current one is asked for.
            views = envs.call("reasoner_turns") if prefetch_answers else None
            turns = []
            for i in needy:
                pending = views[i] if views is not None else [(obs_list[i], info_list[i])]
                turns += [Turn.from_env(obs, info, episode=i) for obs, info in pending]
            result.policy_calls["reasoner"] += dispatch(reasoner_act, turns, by_stage=False)
            result.actions_generated["reasoner"] += len(turns)
            for turn in turns:
                answers[turn.episode].append(turn.text)
        for i in turn_envs:
            actions[i] = answers[i].popleft()

        # -- step --
        observations, _, terminated, truncated, batched_infos = envs.step(actions)
        result.steps += 1
        step_infos = unbatch(batched_infos, num_envs)
        obs_list = unbatch(observations, num_envs)
        done = np.logical_or(terminated, truncated)
        for i in range(num_envs):
            if pending_reset[i] or not done[i]:
                continue
            answers[i].clear()
            source = (
                step_infos[i]["final_info"] if mode is AutoresetMode.SAME_STEP else step_infos[i]
            )
            result.episodes.append(dict(source["episode_summary"]))
            result.env_indices.append(i)
        info_list = step_infos

        if mode is AutoresetMode.NEXT_STEP:
            pending_reset = done
        elif mode is AutoresetMode.DISABLED and done.any():
            reset_options = {**(options or {}), "reset_mask": done.copy()}
            observations, reset_infos = envs.reset(options=reset_options)
            obs_list = unbatch(observations, num_envs)
            for i, info in enumerate(unbatch(reset_infos, num_envs)):
                if done[i]:
                    info_list[i] = info

    del result.episodes[num_episodes:]
    del result.env_indices[num_episodes:]
    return result
