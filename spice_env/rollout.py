"""The rollout driver: lockstep SPICE episodes over a batch of environments.

Everything that plays SPICE episodes goes through :class:`RolloutDriver`: the GRPO trainer's
collector (``spice_agents.collector``), the curriculum probe, TRL's
:class:`~spice_env.integrations.trl_rewards.ChallengerTaskReward`, ``spice play``
(:func:`run_episodes`), and the vector rollout (which shares :func:`dispatch`). One
iteration of SPICE is two phases, and the driver has one method for each:

1. :meth:`RolloutDriver.challenger_phase`: many Challenger episodes at once, each on a pinned
   (or given) document with its own seed. Episodes at the same stage are acted on together:
   one ``act`` call for every type selection, then one for every generation. An episode ends
   invalid (with the shape's penalty) or reaches the Reasoner's turn with a valid task.
2. :meth:`RolloutDriver.reasoner_phase`: every task to answer is put into an env with
   ``reset(options={"task": ...})``; the K attempts of all tasks (each attempt's own prompt:
   multiple-choice options are shuffled per attempt) go to one ``act`` call; the answers are
   stepped in order, and the env scores them and gives the Challenger's reward.

An ``act`` function takes a list of :class:`Turn` (all of one role and stage) and returns one
action per turn: a string, or any object with a ``text`` attribute (a trainer returns
``Completion`` objects, whose token ids and log-probabilities it keeps). The driver stores
that object in ``Turn.output`` and knows nothing of models or torch.

The driver turns ``privileged_info`` on in the envs it drives: it reads the gold task from
``info["privileged"]`` (to reset answering envs with it) and removes that key from every
``Turn.info`` it hands to ``act``, so no policy sees the gold by accident. A policy that is
meant to read it (the scripted oracle, an upper bound) says so with a
``uses_privileged_info = True`` attribute, and :func:`policy_act` passes it the full info.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "ActFn",
    "Episode",
    "EpisodeStart",
    "RolloutDriver",
    "Turn",
    "answer_letters",
    "dispatch",
    "episode_seed",
    "play_episode",
    "policy_act",
    "run_episodes",
    "summarize_episodes",
    "write_jsonl",
]


# ===================================================================================== data
@dataclass
class Turn:
    """One action an episode needs: the acting role's view, then what was done.

    Attributes:
        role: ``"challenger"`` or ``"reasoner"``.
        stage: ``"type_selection"``, ``"generation"`` or ``"answering"``.
        observation: The env observation of the turn.
        info: The env info of the turn, without ``privileged``.
        episode: Index of the episode in the driver call that made the turn.
        attempt: The Reasoner attempt (0 for Challenger turns).
        text: The action taken (filled after ``act``).
        output: What ``act`` returned for the turn when it was not a plain string (a
            ``Completion`` with token ids and log-probabilities, for instance).
        privileged: The env's ``info["privileged"]`` of the turn (the gold), kept apart from
            ``info``; only :func:`policy_act` hands it on, to policies that ask for it.
    """

    role: str
    stage: str
    observation: dict[str, Any]
    info: dict[str, Any]
    episode: int = 0
    attempt: int = 0
    text: str = ""
    output: Any = None
    privileged: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls, observation: dict[str, Any], info: dict[str, Any], episode: int = 0, attempt: int = 0
    ) -> Turn:
        """The turn an env's ``(observation, info)`` asks for; ``privileged`` kept apart."""
        return cls(
            role=str(info["role"]),
            stage=str(info["stage"]),
            observation=observation,
            info={key: value for key, value in info.items() if key != "privileged"},
            episode=episode,
            attempt=attempt,
            privileged=info.get("privileged"),
        )


@dataclass(frozen=True)
class EpisodeStart:
    """Where a Challenger episode starts.

    Attributes:
        key: The caller's name for the episode (a document index...), copied to the episode.
        seed: ``reset`` seed (all of the env's randomness flows from it).
        document_id: A corpus document to pin; ``None`` draws one with the seed.
        document: A document from outside the corpus (``Document``, ``str`` or a dict with
            ``text`` and ``id``), instead of ``document_id``.
        options: More ``reset`` options (``{"task_type": "mcq"}`` to skip type selection).
    """

    key: Any = None
    seed: int | None = None
    document_id: str | None = None
    document: Any = None
    options: Mapping[str, Any] | None = None


@dataclass
class Episode:
    """One SPICE episode as the driver played it.

    Attributes:
        key: The caller's name for it (:attr:`EpisodeStart.key`).
        document_id: The document the task is about.
        challenger_turns: The Challenger's turns (none for a task given to
            :meth:`RolloutDriver.answer_tasks`).
        valid: Whether the Challenger's task passed every check.
        invalid_reason: The :class:`~spice_env.tasks.InvalidReason` value of an invalid task.
        task: The task with its gold answer (``Task.to_dict()``), when one was parsed.
        grounding: The task's grounding score, when computed.
        reasoner_turns: The Reasoner's K turns, once answered.
        outcomes: 1.0 / 0.0 per Reasoner answer.
        reasoner_rewards: The Reasoner's reward per answer.
        challenger_reward: The Challenger's reward (the penalty when invalid; ``None`` for a
            valid task not answered yet).
        pass_rate: Mean of the outcomes.
        gold_letters_shown: For multiple choice, the gold letter each attempt saw.
        extracted: The final answer the verifier read in each Reasoner answer (``None``
            where it found none): for multiple choice, the letter each attempt chose.
    """

    key: Any = None
    document_id: str | None = None
    challenger_turns: list[Turn] = field(default_factory=list)
    valid: bool = False
    invalid_reason: str | None = None
    task: dict[str, Any] | None = None
    grounding: float | None = None
    reasoner_turns: list[Turn] = field(default_factory=list)
    outcomes: list[float] = field(default_factory=list)
    reasoner_rewards: list[float] = field(default_factory=list)
    challenger_reward: float | None = None
    pass_rate: float | None = None
    gold_letters_shown: list[str] = field(default_factory=list)
    extracted: list[str | None] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        """Whether the Reasoner has answered the task."""
        return bool(self.reasoner_turns)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready record of the episode (what ``spice play`` writes per line)."""
        record: dict[str, Any] = {
            "key": self.key,
            "document_id": self.document_id,
            "valid": self.valid,
            "invalid_reason": self.invalid_reason,
            "task": self.task,
            "grounding": self.grounding,
            "challenger_outputs": [t.text for t in self.challenger_turns],
            "answers": [t.text for t in self.reasoner_turns],
            "extracted": list(self.extracted) or None,
            "outcomes": list(self.outcomes),
            "pass_rate": self.pass_rate,
            "gold_letters_shown": list(self.gold_letters_shown) or None,
            "rewards": {
                "challenger": self.challenger_reward,
                "reasoner": list(self.reasoner_rewards),
            },
        }
        return {key: value for key, value in record.items() if value is not None}


ActFn = Callable[[list[Turn]], Sequence[Any]]
"""``act(turns) -> actions``: one action (a ``str`` or an object with ``.text``) per turn."""


def episode_seed(*parts: Any) -> int:
    """A ``reset`` seed mixed from ``parts`` (base seed, iteration, document index...).

    The same parts give the same seed in every process, so a run repeats however its batch
    is split across processes.
    """
    from spice_env.policies.sampling import derive_seed

    return derive_seed(*parts) % (2**31)


def _action_text(action: Any) -> str:
    if isinstance(action, str):
        return action
    text = getattr(action, "text", None)
    return text if isinstance(text, str) else ""


def dispatch(act: ActFn, turns: list[Turn], *, by_stage: bool = True) -> int:
    """Act on ``turns``: one ``act`` call per (role, stage) present, in order of appearance.

    Fills each turn's ``text`` and ``output``.

    Args:
        act: The act function.
        turns: The turns to act on.
        by_stage: One call per stage (the driver's contract: budgets differ per stage); with
            ``False`` one call per role, the policies sorting stages out themselves.

    Returns:
        The number of ``act`` calls made.

    Raises:
        ValueError: when ``act`` returns a different number of actions than it was given.
    """
    groups: dict[tuple[str, str], list[Turn]] = defaultdict(list)
    for turn in turns:
        groups[(turn.role, turn.stage if by_stage else "")].append(turn)
    for (role, stage), members in groups.items():
        actions = list(act(members))
        if len(actions) != len(members):
            raise ValueError(
                f"the {role} act function returned {len(actions)} actions for {len(members)} "
                f"{stage or role} turns; it must return one action per turn"
            )
        for turn, action in zip(members, actions):
            turn.text = _action_text(action)
            turn.output = None if isinstance(action, str) else action
    return len(groups)


def policy_act(policy: Any) -> ActFn:
    """An ``act`` function from an env policy (``act_batch(observations, infos)``).

    A policy with ``uses_privileged_info = True`` (the scripted oracle and noisy Reasoners)
    gets the full info, ``privileged`` included; every other policy the public info.
    """
    privileged = bool(getattr(policy, "uses_privileged_info", False))

    def act(turns: list[Turn]) -> list[str]:
        infos = [t.info for t in turns]
        if privileged:
            infos = [
                {**t.info, "privileged": t.privileged} if t.privileged else t.info for t in turns
            ]
        return list(policy.act_batch([t.observation for t in turns], infos))

    return act


# =================================================================================== driver
class RolloutDriver:
    """Plays SPICE episodes in lockstep over a pool of environments.

    Args:
        make_env: Builds one environment (``SpiceCorpus-v0``, wrapped or not). Default:
            ``gym.make("SpiceCorpus-v0", **env_kwargs)``.
        envs: Environments to use instead of making them (the pool still grows with
            ``make_env`` when a call needs more).

    The driver turns ``privileged_info`` on in every env it drives: it reads the gold of
    valid tasks there, and hands the policies each turn's info without it.
        **env_kwargs: ``gym.make`` keywords for the default ``make_env``.
    """

    def __init__(
        self,
        make_env: Callable[[], Any] | None = None,
        *,
        envs: Sequence[Any] = (),
        **env_kwargs: Any,
    ) -> None:
        if make_env is None:
            import gymnasium as gym

            import spice_env

            make_env = lambda: gym.make(spice_env.ENV_ID, **env_kwargs)  # noqa: E731
        elif env_kwargs:
            raise ValueError("pass either make_env or env keywords, not both")
        self.make_env = make_env
        self.envs: list[Any] = []
        for env in envs:
            self._adopt(env)

    def _adopt(self, env: Any) -> None:
        # The driver reads the gold of valid tasks from info["privileged"] and keeps it from
        # the policies, so it turns that channel on in every env it drives.
        env.unwrapped.privileged_info = True
        self.envs.append(env)

    def env(self, slot: int) -> Any:
        """The environment of ``slot`` (made on first use)."""
        while len(self.envs) <= slot:
            self._adopt(self.make_env())
        return self.envs[slot]

    @property
    def num_answers(self) -> int:
        """K, the Reasoner answers per task of the pool's environments."""
        return int(self.env(0).unwrapped.num_reasoner_attempts)

    # -- phase 1 ---------------------------------------------------------------------------
    def challenger_phase(self, starts: Sequence[EpisodeStart], act: ActFn) -> list[Episode]:
        """Play the Challenger's turns of one episode per start, all in lockstep.

        Args:
            starts: Where each episode starts (one env slot each).
            act: The Challenger's act function; each call gets turns of one stage.

        Returns:
            One :class:`Episode` per start, in order: invalid ones with their penalty,
            valid ones with their task, not answered yet.
        """
        episodes = [Episode(key=start.key) for start in starts]
        infos: list[dict[str, Any]] = []
        turns: list[Turn] = []
        for slot, start in enumerate(starts):
            options: dict[str, Any] = dict(start.options or {})
            if start.document is not None:
                options["document"] = start.document
            elif start.document_id is not None:
                options["document_id"] = start.document_id
            observation, info = self.env(slot).reset(seed=start.seed, options=options)
            episodes[slot].document_id = info.get("document_id")
            infos.append(info)
            turns.append(Turn.from_env(observation, info, slot))
        live = list(range(len(starts)))
        while live:
            dispatch(act, [turns[slot] for slot in live])
            still = []
            for slot in live:
                turn, episode = turns[slot], episodes[slot]
                episode.challenger_turns.append(turn)
                observation, _, terminated, truncated, info = self.env(slot).step(turn.text)
                if terminated or truncated:  # an invalid task ends the episode
                    summary = info["episode_summary"]
                    episode.valid = False
                    episode.invalid_reason = summary.get("invalid_reason")
                    episode.task = summary.get("task")
                    episode.grounding = summary.get("grounding")
                    episode.challenger_reward = float(summary["rewards"]["challenger"])
                elif info["role"] == "reasoner":  # a valid task: answered in phase 2
                    episode.valid = True
                    episode.task = _privileged_task(info)
                    episode.grounding = info.get("grounding")
                else:
                    turns[slot] = Turn.from_env(observation, info, slot)
                    still.append(slot)
            live = still
        return episodes

    # -- phase 2 ---------------------------------------------------------------------------
    def reasoner_phase(
        self, episodes: Sequence[Episode], act: ActFn, seeds: Sequence[int | None] | None = None
    ) -> None:
        """Answer every valid task K times with one ``act`` call; score them through the env.

        Fills each episode's Reasoner turns, outcomes, rewards, pass rate and Challenger
        reward. Episodes that are invalid are left as they are.

        Args:
            episodes: Episodes with a valid ``task``.
            act: The Reasoner's act function (one call with every attempt of every task).
            seeds: ``reset`` seed per episode (it orders each attempt's options).
        """
        todo = [i for i, e in enumerate(episodes) if e.valid and e.task is not None]
        if not todo:
            return
        seeds = list(seeds) if seeds is not None else [None] * len(episodes)
        envs, turns = [], []
        for slot, index in enumerate(todo):
            env = self.env(slot)
            env.reset(seed=seeds[index], options={"task": episodes[index].task})
            for attempt, (observation, info) in enumerate(env.unwrapped.reasoner_turns()):
                turns.append(Turn.from_env(observation, info, index, attempt))
            envs.append(env)
        dispatch(act, turns)
        by_episode: dict[int, list[Turn]] = defaultdict(list)
        for turn in turns:
            by_episode[turn.episode].append(turn)
        for env, index in zip(envs, todo):
            episode, info = episodes[index], {}
            for turn in by_episode[index]:
                _, _, _, _, info = env.step(turn.text)
            summary = info["episode_summary"]
            episode.reasoner_turns = by_episode[index]
            episode.outcomes = [float(o) for o in summary["outcomes"]]
            episode.reasoner_rewards = [float(r) for r in summary["rewards"]["reasoner"]]
            episode.challenger_reward = float(summary["rewards"]["challenger"])
            episode.pass_rate = summary.get("pass_rate")
            episode.gold_letters_shown = list(summary.get("gold_letters_shown") or [])
            episode.extracted = list(summary.get("extracted") or [])

    def answer_tasks(
        self,
        tasks: Sequence[Any],
        act: ActFn,
        *,
        keys: Sequence[Any] | None = None,
        seeds: Sequence[int | None] | None = None,
    ) -> list[Episode]:
        """K answers to each given task (``Task`` or ``Task.to_dict()`` rows), no Challenger.

        Returns:
            One answered :class:`Episode` per task, in order.
        """
        keys = list(keys) if keys is not None else list(range(len(tasks)))
        episodes = []
        for key, task in zip(keys, tasks):
            data = task.to_dict() if hasattr(task, "to_dict") else dict(task)
            episodes.append(
                Episode(key=key, document_id=data.get("document_id"), valid=True, task=data)
            )
        self.reasoner_phase(episodes, act, seeds)
        return episodes

    def play(
        self,
        starts: Sequence[EpisodeStart],
        challenger: ActFn,
        reasoner: ActFn,
    ) -> list[Episode]:
        """Both phases: the Challenger's episodes, then K answers to every valid task."""
        episodes = self.challenger_phase(starts, challenger)
        seeds = [None if s.seed is None else episode_seed(s.seed, "answers") for s in starts]
        self.reasoner_phase(episodes, reasoner, seeds)
        return episodes


def _privileged_task(info: dict[str, Any]) -> dict[str, Any]:
    privileged = info.get("privileged")
    if not privileged:
        raise RuntimeError(
            "the env gave no info['privileged']: the rollout driver needs envs made with "
            "privileged_info=True to read the gold of a valid task"
        )
    return dict(privileged["task"])


# ============================================================================ spice play
def run_episodes(
    make_env: Callable[[], Any] | Any,
    challenger: Any,
    reasoner: Any,
    num_episodes: int,
    *,
    seed: int = 0,
    batch_size: int = 1,
    progress: bool = True,
) -> list[Episode]:
    """Play ``num_episodes`` episodes with two env policies, ``batch_size`` at a time.

    Episode ``i`` is reset with ``episode_seed(seed, i)``, so the episodes are the same
    whatever the batch size.

    Args:
        make_env: An env factory, or one env (then ``batch_size`` must be 1).
        challenger: Policy for the Challenger turns (``act_batch``).
        reasoner: Policy for the Reasoner turns.
        num_episodes: Episodes to play.
        seed: Base seed.
        batch_size: Episodes played together (one batched call per stage for all of them).
        progress: Show a progress bar.

    Returns:
        The episodes, in order.
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1")
    if callable(make_env) and not hasattr(make_env, "step"):
        driver = RolloutDriver(make_env)
    else:
        if batch_size != 1:
            raise ValueError("pass an env factory to play more than one episode at a time")
        driver = RolloutDriver(lambda: None, envs=[make_env])
    challenger_act, reasoner_act = policy_act(challenger), policy_act(reasoner)
    episodes: list[Episode] = []
    bar = tqdm(total=num_episodes, desc="episodes", unit="ep", disable=not progress)
    for first in range(0, num_episodes, batch_size):
        count = min(batch_size, num_episodes - first)
        starts = [
            EpisodeStart(key=i, seed=episode_seed(seed, i)) for i in range(first, first + count)
        ]
        episodes += driver.play(starts, challenger_act, reasoner_act)
        bar.update(count)
        bar.set_postfix(valid=f"{sum(e.valid for e in episodes)}/{len(episodes)}")
    bar.close()
    return episodes


def play_episode(
    env: Any,
    challenger: Any,
    reasoner: Any,
    *,
    seed: int | None = None,
    document_id: str | None = None,
) -> Episode:
    """Play one episode in ``env`` and return it."""
    driver = RolloutDriver(lambda: None, envs=[env])
    start = EpisodeStart(seed=seed, document_id=document_id)
    return driver.play([start], policy_act(challenger), policy_act(reasoner))[0]


def summarize_episodes(
    episodes: Sequence[Episode | dict[str, Any]], num_attempts: int | None = None
) -> dict[str, Any]:
    """Valid rate, invalid reasons, pass-rate histogram and mean rewards of some episodes.

    Args:
        episodes: :class:`Episode` objects or their :meth:`Episode.summary` records.
        num_attempts: K, for the histogram bins (inferred from the episodes when ``None``).
    """
    records = [e.summary() if isinstance(e, Episode) else e for e in episodes]
    total = len(records)
    valid = [e for e in records if e["valid"] and e.get("outcomes")]
    reasons = Counter(e.get("invalid_reason") for e in records if not e["valid"])
    k = num_attempts or max((len(e["outcomes"]) for e in valid), default=0)
    histogram = Counter(round(e["pass_rate"] * k) for e in valid if "pass_rate" in e)
    reasoner_rewards = [r for e in valid for r in e["rewards"]["reasoner"]]
    letters = Counter(letter for e in valid for letter in e.get("gold_letters_shown", []))
    chosen = answer_letters(valid)
    return {
        "episodes": total,
        "valid": sum(bool(e["valid"]) for e in records),
        "valid_rate": sum(bool(e["valid"]) for e in records) / total if total else 0.0,
        "invalid_reasons": dict(reasons.most_common()),
        "pass_rate_histogram": {f"{i}/{k}": histogram.get(i, 0) for i in range(k + 1)},
        "mean_pass_rate": float(np.mean([e["pass_rate"] for e in valid])) if valid else None,
        "mean_reward": {
            "challenger": float(np.mean([e["rewards"]["challenger"] for e in records]))
            if total
            else None,
            "reasoner": float(np.mean(reasoner_rewards)) if reasoner_rewards else None,
        },
        "gold_letters_shown": dict(sorted(letters.items())),
        "reasoner_letters": dict(sorted(chosen.items())),
    }


def answer_letters(episodes: Iterable[Episode | Mapping[str, Any]]) -> Counter[str]:
    """How often the Reasoner chose each letter on multiple-choice tasks.

    Options are shuffled per attempt, so every letter is the gold equally often; a Reasoner
    that piles its answers on one letter is guessing, whatever its reward. Attempts without
    an answer count as ``"none"``.

    Args:
        episodes: :class:`Episode` objects or their summary records (``task`` and
            ``extracted``).
    """
    counts: Counter[str] = Counter()
    for episode in episodes:
        if isinstance(episode, Episode):
            task, extracted = episode.task, episode.extracted
        else:
            task, extracted = episode.get("task"), episode.get("extracted")
        if (task or {}).get("task_type") == "mcq":
            counts.update("none" if e is None else str(e) for e in extracted or [])
    return counts


def write_jsonl(records: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write records as JSON Lines (parent folders are created)."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
