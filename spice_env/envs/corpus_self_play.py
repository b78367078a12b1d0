"""``SpiceCorpus-v0``: SPICE self-play as a two-role Gymnasium environment."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from spice_env.corpus import Corpus, CorpusConfig, Document, load_corpus
from spice_env.envs.spaces import UnicodeText
from spice_env.prompts import DEFAULT_PROMPTS, OPTION_LETTERS, PromptTemplates, format_question
from spice_env.rewards import ChallengerReward, make_challenger_reward, make_reasoner_reward
from spice_env.tasks import (
    FREE_FORM_ANSWER_TYPES,
    InvalidReason,
    Task,
    TaskType,
    TaskVerdict,
    TypeSelection,
    ValidityConfig,
    parse_task,
    parse_type_selection,
    validate_task,
)

__all__ = ["ROLES", "STAGES", "CorpusSelfPlayEnv"]

ROLES = ("challenger", "reasoner")
"""Role names; ``observation["role"]`` is the index into this tuple."""
STAGES = ("type_selection", "generation", "answering")
"""Stage names; ``observation["stage"]`` is the index into this tuple."""
RewardRole = Literal["acting", "challenger", "reasoner"]
RESET_OPTIONS = ("document_id", "document", "task_type", "answer_type", "task")
"""The keys ``reset(options=...)`` accepts."""


@functools.lru_cache(maxsize=8)
def _embedded_corpus(max_segment_tokens: int, min_words: int) -> Corpus:
    # The embedded corpus is read-only, so every env in a process can share one copy.
    return load_corpus(None, max_segment_tokens=max_segment_tokens, min_words=min_words)


class CorpusSelfPlayEnv(gym.Env[dict, str]):
    """SPICE self-play over a document corpus, with a Challenger and a Reasoner.

    ## Description

    One episode is one Challenger trajectory of SPICE (Self-Play In Corpus Environments,
    Liu et al., 2025). The Challenger reads a document drawn from a corpus and writes a
    verifiable task about it: a multiple-choice question, or a free-form question whose
    answer is an integer, an expression or a string of at most three words. The Reasoner then
    answers that task K times *without* the document. The Challenger is paid for valid tasks
    at the edge of the Reasoner's ability (by default a Gaussian on the variance of the K
    outcomes, highest at a 50% pass rate), the Reasoner for each correct answer. Actions are
    text: the raw output of whatever policy plays the acting role.

    ## Roles

    | index | name         | sees                           | writes                           |
    |-------|--------------|--------------------------------|----------------------------------|
    | 0     | `challenger` | the document                   | type-selection JSON, then a task |
    | 1     | `reasoner`   | the question (with options)    | an answer, ideally in `\\boxed{}` |

    ## Observation Space

    `Dict(role=Discrete(2), stage=Discrete(3), text=UnicodeText)`: the acting role, the
    stage (0 `type_selection`, 1 `generation`, 2 `answering`) and its text (the document for
    the Challenger, the question and its lettered options for the Reasoner). The ready-made
    chat messages for the acting role are in `info["messages"]`.

    ## Action Space

    `UnicodeText(max_action_chars)`: any string. Longer actions are cut to
    `max_action_chars` before parsing. Malformed output is never an error: a Challenger output
    that is not a valid task ends the episode with the invalid-task reward and a named reason.

    ## Rewards

    - Reasoner, per answer: `reasoner_reward` of the verification result (default 1 if the
      answer is equivalent to the gold, else 0).
    - Challenger, once per episode: for a valid task, `challenger_reward` of the K outcomes
      (default `"spice"`: exp(-(p(1-p) - 0.25)^2 / 0.02), so 0.044, 0.372, 0.823, 0.988, 1.0
      at p = 0, 1/8, 2/8, 3/8, 1/2); for an invalid task, the shape's penalty (SPICE: -0.1).

    The scalar reward of `step` follows `reward_role`: `"acting"` (default) gives the reward
    of the role that just acted (the Challenger's only when its task is invalid, since a
    valid task is scored after the K answers); `"challenger"` or `"reasoner"` give that role's
    reward at the step it is earned, 0 elsewhere. `info["rewards"]` always holds both roles'
    rewards earned at the step.

    ## Starting State

    A document drawn uniformly from the corpus with `self.np_random`, or pinned with
    `reset(options={"document_id": ...})` so that G Challenger trajectories share one
    document, or given with `reset(options={"document": Document | str})` (a document from
    outside the corpus). `reset(options={"task": Task | dict})` skips the Challenger and
    starts at the Reasoner's turn with that task (for evaluation or Reasoner-only training).

    ## Episode End

    Terminates after an invalid Challenger output, or after the K-th Reasoner answer. There
    is no truncation. `info["episode_summary"]` then summarizes the episode (see Info).

    Info keys whose value is not known yet (the `task` before it is written, `valid` and
    `pass_rate` before they are decided...) are left out rather than set to `None`, so
    Gymnasium's vector envs can batch infos of sub-envs at different stages (`_key` masks).
    For async vector envs pass `vector_kwargs={"shared_memory": False}`: shared memory pads
    text observations to `max_observation_chars`.

    ## Arguments

    ```python
    import gymnasium as gym
    import spice_env  # registers SpiceCorpus-v0

    env = gym.make("SpiceCorpus-v0", num_reasoner_attempts=8, challenger_reward="spice")
    ```

    - `corpus`: `None` (the embedded corpus), a path to a JSONL/Parquet/CSV file or a folder of
      text files, `"hf:NAME"` for a hub dataset, a `datasets` object, or a `Corpus`.
    - `corpus_config`: how the corpus is read, a `spice_env.corpus.CorpusConfig` or a dict of
      its fields (`text_field`, `id_field`, `max_segment_tokens` (5,992), `tokenizer`,
      `min_words`, `streaming`, `load_kwargs`...).
    - `num_reasoner_attempts`: K, Reasoner answers per valid task (8).
    - `challenger_reward`, `challenger_reward_kwargs`: a registered shape name (`"spice"`,
      `"absolute_zero"`, `"threshold"`, `"r_zero"`, `"learnability"`...) or a callable.
    - `reasoner_reward`: a registered name (`"correctness"`) or a callable.
    - `task_types`: allowed task types, `("mcq", "free_form")`.
    - `type_selection`: use the two-stage protocol (stage 1 picks the task type). If False
      the environment picks the type (and a free-form answer type) with its own RNG.
    - `validity`: the task checks, a `spice_env.tasks.ValidityConfig` or a dict of its fields
      (`grounding_threshold`, `fuzzy_word_cutoff`, `max_string_words`, `min_leak_chars`,
      `check_number_leak`, `check_self_verification`, `min_question_document_words`).
    - `shuffle_options`: present a multiple-choice task's options in a new seeded order at
      every Reasoner attempt (the gold letter follows its option), so a Reasoner cannot learn
      the Challenger's favourite letter instead of the answer (True).
    - `privileged_info`: add `info["privileged"]` (see Info) for trainers and test policies
      that need the gold answer (False).
    - `prompts`: `PromptTemplates` to override any prompt; `reasoner_prompt_style`: `"chat"`
      or `"base"` (plain-text prompt in `info["prompt"]` for models without a chat template).
    - `verifier_config`: a `spice_env.verifiers.VerifierConfig`.
    - `reward_role`: see Rewards. `max_action_chars`, `max_observation_chars`: size limits.
    - `render_mode`: `"ansi"` or `"human"`.

    ## Info

    Every step's `info` holds the acting `role` and `stage`, the chat `messages` for it,
    `rewards` of both roles earned at the step, `document_id`, `task_type`, `answer_type`, and
    once known `valid`/`invalid_reason`/`invalid_detail`, `attempt`, `outcomes`, `pass_rate`,
    `verification`. `info["task"]` is the task *as the Reasoner sees it*: question, options in
    this attempt's order, types and document id, never the gold answer or the solution, so a
    policy that reads `info` cannot cheat by accident. The one channel to the gold is
    `info["privileged"]`, present only when the env is made with `privileged_info=True`:
    `{"task": <the Challenger's task, gold and solution included>, "answer": <the gold as
    shown at this attempt>}`. `rollout.RolloutDriver` (used by the trainer, the probe and
    `spice play`) reads it and hands policies the info without it.

    At the end of an episode `info["episode_summary"]` summarizes it (the task with its gold,
    validity, answers and the final answer the verifier read in each, outcomes, pass rate,
    rewards of both roles, the gold letter each Reasoner attempt saw). It has its own key so
    that Gymnasium's `RecordEpisodeStatistics` and Stable-Baselines3's `Monitor` can add their
    `info["episode"]` beside it.

    `reasoner_turns()` returns the observation and info of every Reasoner attempt still to
    come (their option orders differ), so a batched policy can generate all K answers at once.

    ## Version History

    - v0: initial version. Before release: the corpus settings moved into `corpus_config`,
      the task checks into `validity`; the episode summary moved from `info["episode"]` to
      `info["episode_summary"]`; the gold left `info["task"]` for `info["privileged"]`;
      multiple-choice options are shuffled per Reasoner attempt.
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(
        self,
        corpus: Any = None,
        *,
        corpus_config: CorpusConfig | Mapping[str, Any] | None = None,
        num_reasoner_attempts: int = 8,
        challenger_reward: str | Callable[..., Any] | ChallengerReward = "spice",
        challenger_reward_kwargs: dict[str, Any] | None = None,
        reasoner_reward: str | Callable[..., float] = "correctness",
        task_types: Sequence[str] = ("mcq", "free_form"),
        type_selection: bool = True,
        validity: ValidityConfig | Mapping[str, Any] | None = None,
        shuffle_options: bool = True,
        privileged_info: bool = False,
        prompts: PromptTemplates | None = None,
        reasoner_prompt_style: Literal["chat", "base"] = "chat",
        verifier_config: Any = None,
        reward_role: RewardRole = "acting",
        max_action_chars: int = 32_768,
        max_observation_chars: int = 1_000_000,
        render_mode: str | None = None,
    ) -> None:
        # -- configuration, checked up front so a bad setting fails before any work --
        if num_reasoner_attempts < 1:
            raise ValueError(
                f"num_reasoner_attempts={num_reasoner_attempts} must be at least 1 (SPEC: K = 8)"
            )
        self.task_types = tuple(TaskType(t) for t in task_types)
        if not self.task_types:
            raise ValueError("task_types is empty; allow at least one of 'mcq', 'free_form'")
        if reasoner_prompt_style not in ("chat", "base"):
            raise ValueError(
                f"reasoner_prompt_style={reasoner_prompt_style!r}; use 'chat' or 'base'"
            )
        if reward_role not in ("acting", "challenger", "reasoner"):
            raise ValueError(
                f"reward_role={reward_role!r}; use 'acting', 'challenger' or 'reasoner'"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r}; use one of {self.metadata['render_modes']}"
            )
        if max_action_chars < 1 or max_observation_chars < 1:
            raise ValueError("max_action_chars and max_observation_chars must be positive")
        self.validity = ValidityConfig.coerce(validity)
        self.corpus_config = CorpusConfig.coerce(corpus_config)
        if corpus is None and self.corpus_config.tokenizer is None:
            config = self.corpus_config
            corpus = _embedded_corpus(config.max_segment_tokens, config.min_words)
        # A given Corpus is used as it is, split when corpus_config holds a held-out share.
        self.corpus = load_corpus(corpus, self.corpus_config)
        self.num_reasoner_attempts = num_reasoner_attempts
        self.challenger_reward = make_challenger_reward(
            challenger_reward, **(challenger_reward_kwargs or {})
        )
        self.reasoner_reward = make_reasoner_reward(reasoner_reward)
        self.type_selection = type_selection
        self.shuffle_options = shuffle_options
        self.privileged_info = privileged_info
        self.prompts = prompts or DEFAULT_PROMPTS
        self.reasoner_prompt_style = reasoner_prompt_style
        self.verifier_config = verifier_config
        self.reward_role = reward_role
        self.max_action_chars = max_action_chars
        self.max_observation_chars = max_observation_chars
        self.render_mode = render_mode

        # -- spaces --
        self.observation_space = spaces.Dict(
            {
                "role": spaces.Discrete(len(ROLES)),
                "stage": spaces.Discrete(len(STAGES)),
                "text": UnicodeText(max_observation_chars),
            }
        )
        self.action_space = UnicodeText(max_action_chars)

        # -- episode state --
        self.document: Document | None = None
        self.stage: str = "type_selection"
        self.task_type: TaskType | None = None
        self.answer_type: str | None = None
        self.task: Task | None = None
        """The Challenger's task, gold included (privileged: never put in a policy's info)."""
        self.verdict: TaskVerdict | None = None
        self.option_orders: list[tuple[int, ...]] = []
        """Per Reasoner attempt, the Challenger's option index shown at each position."""
        self.challenger_outputs: list[str] = []
        self.answers: list[str] = []
        self.extracted: list[str | None] = []
        """Per Reasoner attempt, the final answer the verifier read (``None``: none found)."""
        self.outcomes: list[float] = []
        self.reasoner_rewards: list[float] = []
        self.done = True

    # ------------------------------------------------------------------ reset
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode on a new (or pinned) document.

        Args:
            seed: Seeds ``self.np_random``, from which all the environment's randomness flows.
            options: ``{"document_id": id}`` pins a corpus document; ``{"document": Document
                | str}`` uses a document from outside the corpus; ``{"task_type": "mcq" |
                "free_form", "answer_type": ...}`` skips type selection and asks for that
                template; ``{"task": Task | dict}`` starts at the Reasoner's turn with a
                given task.

        Returns:
            The first observation and its info.
        """
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown reset options {sorted(unknown)}; known: {', '.join(RESET_OPTIONS)}"
            )

        self.task = None
        self.verdict = None
        self.option_orders = []
        self.challenger_outputs = []
        self.answers, self.outcomes, self.reasoner_rewards = [], [], []
        self.extracted = []
        self.done = False

        if options.get("task") is not None:
            task = options["task"]
            self.task = task if isinstance(task, Task) else Task.from_dict(task)
            self.task_type, self.answer_type = self.task.task_type, self.task.answer_type
            self.document = None
            if options.get("document_id") is not None:
                self.document = self.corpus.get(str(options["document_id"]))
            self._start_answering()
            return self._observation(), self._info()

        if options.get("document") is not None:
            self.document = _as_document(options["document"])
        elif options.get("document_id") is not None:
            self.document = self.corpus.get(str(options["document_id"]))
        else:
            self.document = self.corpus.sample(self.np_random)

        if options.get("task_type") is not None:
            # The stage-2 template is given (a dataset of Challenger prompts): skip stage 1.
            self.stage = "generation"
            self.task_type = TaskType(options["task_type"])
            self.answer_type = options.get("answer_type") or self._pick_answer_type(None)
        elif self.type_selection:
            self.stage, self.task_type, self.answer_type = "type_selection", None, None
        else:
            self.stage = "generation"
            self.task_type = self.task_types[int(self.np_random.integers(len(self.task_types)))]
            self.answer_type = self._pick_answer_type(None)
        return self._observation(), self._info()

    # ------------------------------------------------------------------ step
    def step(self, action: str) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Apply the acting role's text output.

        Returns:
            ``(observation, reward, terminated, truncated, info)``; see the class docstring.
        """
        if self.done:
            raise RuntimeError("the episode has ended (or never started); call reset() first")
        action = action if isinstance(action, str) else ""
        action = action[: self.max_action_chars]

        if self.stage == "type_selection":
            self.challenger_outputs.append(action)
            selection = parse_type_selection(action)
            chosen = self._choose_task_type(selection)
            if isinstance(chosen, InvalidReason):
                return self._end_invalid(TaskVerdict(None, chosen, "type selection"))
            self.task_type = chosen
            self.answer_type = self._pick_answer_type(selection)
            self.stage = "generation"
            return self._observation(), 0.0, False, False, self._info()

        if self.stage == "generation":
            self.challenger_outputs.append(action)
            assert self.document is not None and self.task_type is not None
            parsed = parse_task(
                action,
                self.task_type,
                document_id=self.document.id,
                default_answer_type=self.answer_type,
            )
            verdict = validate_task(parsed, self.document.text, self.validity, self._verify)
            if not verdict.valid:
                return self._end_invalid(verdict)
            self.verdict, self.task = verdict, verdict.task
            self._start_answering()
            return self._observation(), 0.0, False, False, self._info()

        # answering: the answer is checked against the task as this attempt showed it
        shown = self._shown_task(len(self.answers))
        result = self._verify(shown.answer, action, shown.answer_type, options=shown.options)
        reasoner_reward = float(self.reasoner_reward(result, shown, action))
        self.answers.append(action)
        self.extracted.append(result.extracted)
        self.outcomes.append(1.0 if result.correct else 0.0)
        self.reasoner_rewards.append(reasoner_reward)
        if len(self.answers) < self.num_reasoner_attempts:
            info = self._info(rewards=(0.0, reasoner_reward), verification=result)
            return self._observation(), self._scalar(None, reasoner_reward), False, False, info

        self.done = True
        challenger_reward = float(self.challenger_reward(self.outcomes))
        info = self._info(rewards=(challenger_reward, reasoner_reward), verification=result)
        info["episode_summary"] = self._episode_summary(challenger_reward)
        reward = self._scalar(challenger_reward, reasoner_reward)
        return self._observation(), reward, True, False, info

    def reasoner_turns(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """The observation and info of every Reasoner attempt still to come, in order.

        The first is the current turn's. Multiple-choice attempts show their options in
        different orders, so the K prompts of one task may differ; a batched policy uses this
        to generate all remaining answers in one call.

        Returns:
            ``[(observation, info), ...]``, empty unless it is the Reasoner's turn.
        """
        if self.done or self.stage != "answering":
            return []
        turns = []
        for attempt in range(len(self.answers), self.num_reasoner_attempts):
            turns.append((self._observation(attempt), self._info(attempt=attempt)))
        return turns

    # ------------------------------------------------------------------ render / close
    def render(self) -> str | None:
        """``"ansi"``: return a text picture of the current state; ``"human"``: print it."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='ansi' to make"
            )
            return None
        lines = [f"[{self._role()} | {self.stage}] document={self._document_id()}"]
        if self.task is not None:
            lines.append("Q: " + format_question(self.task.question, self.task.options))
            lines.append(f"gold: {self.task.answer} ({self.task.answer_type})")
        elif self.document is not None:
            lines.append(
                self.document.text[:400] + ("..." if len(self.document.text) > 400 else "")
            )
        if self.outcomes:
            lines.append("outcomes: " + "".join("1" if o else "0" for o in self.outcomes))
        text = "\n".join(lines)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        """Nothing to release: the corpus is memory-mapped and shared."""

    # ------------------------------------------------------------------ helpers
    def _verify(
        self, gold: str, prediction: str, answer_type: str | None, *, options: Any = None
    ) -> Any:
        from spice_env.verifiers import check

        return check(gold, prediction, answer_type, options=options, config=self.verifier_config)

    def _choose_task_type(
        self, selection: TypeSelection | InvalidReason
    ) -> TaskType | InvalidReason:
        if isinstance(selection, InvalidReason):
            return selection
        suitable = {
            TaskType.MCQ: selection.suitable_for_mcq,
            TaskType.FREE_FORM: selection.suitable_for_free_form,
        }
        allowed = [t for t in self.task_types if suitable[t]]
        if not allowed:
            return InvalidReason.NO_SUITABLE_TYPE
        return allowed[int(self.np_random.integers(len(allowed)))]

    def _pick_answer_type(self, selection: TypeSelection | None) -> str:
        if self.task_type is TaskType.MCQ:
            return "MCQ"
        if selection is not None and selection.best_answer_type:
            return selection.best_answer_type
        if selection is not None:
            return "Integer"
        return FREE_FORM_ANSWER_TYPES[int(self.np_random.integers(len(FREE_FORM_ANSWER_TYPES)))]

    def _start_answering(self) -> None:
        """Enter the Reasoner's stage; draw each attempt's option order (seeded)."""
        assert self.task is not None
        self.stage = "answering"
        options = self.task.options
        if self.task.is_mcq and options and self.shuffle_options:
            self.option_orders = [
                tuple(int(i) for i in self.np_random.permutation(len(options)))
                for _ in range(self.num_reasoner_attempts)
            ]
        else:
            self.option_orders = []

    def _shown_task(self, attempt: int) -> Task:
        """The task as Reasoner attempt ``attempt`` sees it: options reordered, gold mapped."""
        assert self.task is not None
        if not self.option_orders or self.task.options is None:
            return self.task
        order = self.option_orders[min(attempt, len(self.option_orders) - 1)]
        options = tuple(self.task.options[i] for i in order)
        gold_index = OPTION_LETTERS.index(self.task.answer)
        return replace(self.task, options=options, answer=OPTION_LETTERS[order.index(gold_index)])

    def _end_invalid(self, verdict: TaskVerdict):
        self.done = True
        self.verdict = verdict
        penalty = float(self.challenger_reward.invalid(verdict.reason))
        info = self._info(rewards=(penalty, 0.0))
        info["episode_summary"] = self._episode_summary(penalty)
        return (
            self._observation(),
            self._scalar(penalty, None, challenger_acted=True),
            True,
            False,
            info,
        )

    def _scalar(
        self, challenger: float | None, reasoner: float | None, challenger_acted: bool = False
    ) -> float:
        if self.reward_role == "challenger":
            return challenger or 0.0
        if self.reward_role == "reasoner":
            return reasoner or 0.0
        return (challenger or 0.0) if challenger_acted else (reasoner or 0.0)

    def _role(self) -> str:
        return "reasoner" if self.stage == "answering" else "challenger"

    def _document_id(self) -> str | None:
        if self.document is not None:
            return self.document.id
        return self.task.document_id if self.task is not None else None

    def _attempt(self, attempt: int | None) -> int:
        current = len(self.answers)
        return current if attempt is None else attempt

    def _observation(self, attempt: int | None = None) -> dict[str, Any]:
        if self.stage == "answering":
            shown = self._shown_task(self._attempt(attempt))
            text = format_question(shown.question, shown.options)
        else:
            text = self.document.text if self.document is not None else ""
        return {
            "role": ROLES.index(self._role()),
            "stage": STAGES.index(self.stage),
            "text": text[: self.max_observation_chars],
        }

    def _messages(self, attempt: int) -> list[dict[str, str]]:
        if self.stage == "answering":
            shown = self._shown_task(attempt)
            return self.prompts.reasoner_messages(shown.question, shown.options)
        document = self.document.text if self.document is not None else ""
        if self.stage == "type_selection":
            return self.prompts.type_selection_messages(document)
        if self.task_type is TaskType.MCQ:
            return self.prompts.mcq_messages(document)
        return self.prompts.free_form_messages(document, self.answer_type or "Integer")

    def _info(
        self,
        rewards: tuple[float, float] = (0.0, 0.0),
        verification: Any = None,
        attempt: int | None = None,
    ) -> dict[str, Any]:
        verdict = self.verdict
        attempt = self._attempt(attempt)
        answering = self.stage == "answering" and not self.done
        shown = self._shown_task(attempt) if self.task is not None else None
        info: dict[str, Any] = {
            "role": self._role(),
            "stage": self.stage,
            "messages": self._messages(attempt) if not self.done else [],
            "rewards": {"challenger": rewards[0], "reasoner": rewards[1]},
            "task": shown.public_dict() if shown is not None else None,
            "task_type": self.task_type.value if self.task_type is not None else None,
            "answer_type": self.answer_type,
            "valid": None if verdict is None else verdict.valid,
            "invalid_reason": verdict.reason.value
            if verdict is not None and verdict.reason
            else None,
            "invalid_detail": verdict.detail if verdict is not None and verdict.reason else "",
            "grounding": verdict.grounding if verdict is not None else None,
            "document_id": self._document_id(),
            "attempt": attempt,
            "outcomes": list(self.outcomes),
            "pass_rate": float(np.mean(self.outcomes)) if self.done and self.outcomes else None,
        }
        if not self.done and self.stage != "answering":
            # The acting Challenger stage's JSON Schema, OpenAI-style, sized for the default
            # budget; LLMPolicy refits it to its own (spice_env.tasks.refit_response_format).
            from spice_env.tasks.schemas import challenger_response_format

            info["response_format"] = challenger_response_format(
                self.stage, self.task_type, self.answer_type
            )
        if answering and self.reasoner_prompt_style == "base" and shown is not None:
            info["prompt"] = self.prompts.reasoner_prompt(shown.question, shown.options)
        if self.privileged_info and self.task is not None and shown is not None:
            info["privileged"] = {"task": self.task.to_dict(), "answer": shown.answer}
        if verification is not None:
            info["verification"] = {
                "correct": bool(verification.correct),
                "reason": str(verification.reason),
                "extracted": verification.extracted,
            }
        return _without_none(info)

    def _episode_summary(self, challenger_reward: float) -> dict[str, Any]:
        verdict = self.verdict
        summary = {
            "document_id": self._document_id(),
            "task": self.task.to_dict()
            if self.task is not None
            else (
                verdict.task.to_dict() if verdict is not None and verdict.task is not None else None
            ),
            "valid": bool(verdict.valid) if verdict is not None else self.task is not None,
            "invalid_reason": verdict.reason.value
            if verdict is not None and verdict.reason
            else None,
            "invalid_detail": verdict.detail if verdict is not None and verdict.reason else "",
            "grounding": verdict.grounding if verdict is not None else None,
            "challenger_outputs": list(self.challenger_outputs),
            "answers": list(self.answers),
            "extracted": list(self.extracted),
            "outcomes": list(self.outcomes),
            "pass_rate": float(np.mean(self.outcomes)) if self.outcomes else None,
            "rewards": {"challenger": challenger_reward, "reasoner": list(self.reasoner_rewards)},
            "gold_letters_shown": [
                self._shown_task(attempt).answer for attempt in range(len(self.answers))
            ]
            if self.task is not None and self.task.is_mcq
            else None,
        }
        return _without_none(summary)


def _as_document(value: Any) -> Document:
    if isinstance(value, Document):
        return value
    text = value if isinstance(value, str) else None
    if isinstance(value, Mapping) and isinstance(value.get("text"), str):
        text = value["text"]
    if text is not None:
        given = value.get("id") if isinstance(value, Mapping) else None
        doc_id = str(given or "given-" + hashlib.blake2b(text.encode(), digest_size=6).hexdigest())
        return Document(id=doc_id, text=text, source_id=doc_id)
    raise TypeError(
        "reset(options={'document': ...}) takes a Document, a str, or a dict with 'text' "
        f"(and optionally 'id'), not {type(value).__name__}"
    )


def _without_none(info: dict[str, Any]) -> dict[str, Any]:
    """Leave out keys whose value is unknown (``None``).

    Gymnasium's vector envs batch a key that is absent in some sub-envs through its ``_key``
    mask, but cannot batch a dict in one sub-env beside ``None`` in another (``task``), and
    would read a ``None`` beside floats or bools as an error or as ``False``.
    """
    return {key: value for key, value in info.items() if value is not None}
