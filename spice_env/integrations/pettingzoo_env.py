"""SPICE self-play as a PettingZoo environment: agents ``challenger_0`` and ``reasoner_0``.

## Description

The same episode as ``SpiceCorpus-v0`` (one Challenger trajectory on one document, then K
Reasoner answers), exposed through PettingZoo's Agent Environment Cycle (AEC) API. The game
logic is the Gymnasium core, :class:`~spice_env.envs.CorpusSelfPlayEnv`; this module is only
the API shell, so rewards, validity checks and verification are identical in both APIs.

```python
from spice_env.integrations.pettingzoo_env import env as spice_aec
from spice_env.policies import NoisyReasoner, ScriptedChallenger

aec = spice_aec(num_reasoner_attempts=8)
policies = {"challenger_0": ScriptedChallenger(), "reasoner_0": NoisyReasoner(q=0.5)}
aec.reset(seed=0)
for agent in aec.agent_iter():
    observation, reward, terminated, truncated, info = aec.last()
    action = None if terminated or truncated else policies[agent].act(observation, info)
    aec.step(action)
```

## Agents and turn order

`possible_agents = ["challenger_0", "reasoner_0"]`: PettingZoo's ``<type>_<number>`` naming, so
tools that group agents by type (SuperSuit's agent indicators) see the two roles;
``AGENT_ROLES`` maps each name to its role and every info carries ``info["role"]``
(``"challenger"`` or ``"reasoner"``). The acting agent follows the episode, not a
fixed cycle: the Challenger acts once or twice (type selection, then generation; once when the
environment picks the task type), then the Reasoner acts K times in a row. An episode started
with ``reset(options={"task": ...})`` begins at the Reasoner. When the episode ends (an invalid
task, or the K-th answer) both agents terminate together; as PettingZoo requires, each then
takes one ``step(None)`` and leaves ``env.agents``, the Challenger first. There is no
truncation.

## Observation and action spaces

Per agent, equal to the core's: ``Dict(role=Discrete(2), stage=Discrete(3), text=UnicodeText)``
observations and ``UnicodeText`` text actions, so policies written for the Gymnasium env
(``Policy.act(observation, info)``) play here unchanged. ``observe(agent)`` is that agent's
view of the current state and keeps the information asymmetry of SPICE: the Challenger's text
is the document, the Reasoner's text is the question with its options (empty until a task
exists). The Reasoner never observes the document.

## Rewards and infos

``rewards`` holds both agents' rewards earned at the last step (the core's
``info["rewards"]``, keyed by agent name); ``last()`` returns the agent's reward accumulated
since it last acted, so the Challenger collects its task reward (or its invalid-task penalty)
at its final ``last()``. The acting agent's info is the core's info (chat ``messages``,
``stage``, ``task_type``, ``attempt``...); the waiting agent gets a short info (``role``,
``stage``, ``rewards``, ``document_id``) without any prompt. ``info["acting"]`` says whether
the agent is to act now. Both get ``info["episode_summary"]`` when the episode ends.

## Parallel form

Turns in SPICE are sequential (the Reasoner cannot answer before the Challenger has written
the task), so there is no natural simultaneous-move form. :func:`parallel_env` offers
PettingZoo's turn-based conversion for code that only speaks the parallel API: every step
takes an action dict, only the acting agent's action is used (see ``infos[agent]["acting"]``),
and it passes ``parallel_api_test``. For throughput, batch across episodes instead: the
parallelism SPICE needs (G Challenger trajectories per document, K answers per task, many
documents) is what ``gym.make_vec`` and :func:`spice_env.integrations.vector.rollout_vector`
provide.

## Arguments

``env(**kwargs)``, ``raw_env(**kwargs)`` and ``parallel_env(**kwargs)`` take the keyword
arguments of ``CorpusSelfPlayEnv`` (``num_reasoner_attempts``, ``challenger_reward``,
``corpus``, ``render_mode``...). ``reset(options=...)`` forwards ``document_id`` and ``task``;
other keys are ignored with a warning.

## Version History

- v0: initial version.
"""

from __future__ import annotations

import warnings
from typing import Any

from gymnasium import spaces

try:
    from pettingzoo import AECEnv, ParallelEnv
    from pettingzoo.utils import wrappers
    from pettingzoo.utils.conversions import turn_based_aec_to_parallel
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "spice_env.integrations.pettingzoo_env needs PettingZoo; install it with "
        "`pip install 'spice-env[ecosystem]'`"
    ) from error

from spice_env.envs.corpus_self_play import ROLES, STAGES, CorpusSelfPlayEnv
from spice_env.envs.spaces import UnicodeText
from spice_env.prompts import format_question

__all__ = ["AGENTS", "AGENT_ROLES", "SpiceAECEnv", "env", "parallel_env", "raw_env"]

AGENTS = tuple(f"{role}_0" for role in ROLES)
"""Agent names, in the order of ``ROLES``: ``("challenger_0", "reasoner_0")``."""
AGENT_ROLES = dict(zip(AGENTS, ROLES))
"""Agent name -> role name."""
_AGENT_OF_ROLE = dict(zip(ROLES, AGENTS))

_RESET_OPTIONS = ("document_id", "task")


class SpiceAECEnv(AECEnv[str, dict[str, Any], str | None]):
    """PettingZoo AEC shell over :class:`CorpusSelfPlayEnv`; see the module docstring.

    Args:
        render_mode: ``"ansi"`` or ``"human"`` (forwarded to the core).
        **env_kwargs: Keyword arguments of :class:`CorpusSelfPlayEnv`.
    """

    metadata = {
        "name": "spice_corpus_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": False,
        "render_fps": 4,
    }

    def __init__(self, render_mode: str | None = None, **env_kwargs: Any) -> None:
        super().__init__()
        self.core = CorpusSelfPlayEnv(render_mode=render_mode, **env_kwargs)
        self.render_mode = render_mode
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        # One space object per agent (PettingZoo checks identity, and seeding one agent's
        # action space must not move the other's sampler).
        self._observation_spaces = {agent: self._make_observation_space() for agent in AGENTS}
        self._action_spaces = {agent: UnicodeText(self.core.max_action_chars) for agent in AGENTS}
        self.rewards: dict[str, float] = {}
        self._cumulative_rewards: dict[str, float] = {}
        self.terminations: dict[str, bool] = {}
        self.truncations: dict[str, bool] = {}
        self.infos: dict[str, dict[str, Any]] = {}
        self.agent_selection: str = AGENTS[0]

    def _make_observation_space(self) -> spaces.Dict:
        return spaces.Dict(
            {
                "role": spaces.Discrete(len(ROLES)),
                "stage": spaces.Discrete(len(STAGES)),
                "text": UnicodeText(self.core.max_observation_chars),
            }
        )

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Space:
        """The observation space of ``agent`` (the same object on every call)."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """The action space of ``agent`` (the same object on every call)."""
        return self._action_spaces[agent]

    # ------------------------------------------------------------------ reset
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start an episode; ``options`` may pin ``document_id`` or give a ``task``.

        Args:
            seed: Seeds the core environment's RNG.
            options: ``{"document_id": id}`` or ``{"task": Task | dict}``; other keys are
                ignored with a warning (PettingZoo's API test passes arbitrary options).
        """
        options = dict(options or {})
        unknown = sorted(set(options) - set(_RESET_OPTIONS))
        if unknown:
            warnings.warn(
                f"ignoring unknown reset options {unknown}; known: {', '.join(_RESET_OPTIONS)}",
                stacklevel=2,
            )
        core_options = {key: options[key] for key in _RESET_OPTIONS if key in options}
        _, info = self.core.reset(seed=seed, options=core_options or None)

        self.agents = list(self.possible_agents)
        self.rewards = {agent: 0.0 for agent in self.agents}
        self._cumulative_rewards = {agent: 0.0 for agent in self.agents}
        self.terminations = {agent: False for agent in self.agents}
        self.truncations = {agent: False for agent in self.agents}
        self.agent_selection = _AGENT_OF_ROLE[info["role"]]
        self.infos = self._infos(info)

    # ------------------------------------------------------------------ step
    def step(self, action: str | None) -> None:
        """Apply the selected agent's action (``None`` for an agent that has terminated)."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        # The acting agent's accumulated reward restarts at each of its turns (AEC semantics).
        self._cumulative_rewards[agent] = 0.0
        _, _, terminated, truncated, info = self.core.step(action if action is not None else "")

        self.rewards = {a: float(info["rewards"][AGENT_ROLES[a]]) for a in self.agents}
        if terminated or truncated:
            self.terminations = {a: bool(terminated) for a in self.agents}
            self.truncations = {a: bool(truncated) for a in self.agents}
            # Both agents are done: the Challenger steps out first and reads its task reward.
            self.agent_selection = self.agents[0]
        else:
            self.agent_selection = _AGENT_OF_ROLE[info["role"]]
        self.infos = self._infos(info)
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    # ------------------------------------------------------------------ observe
    def observe(self, agent: str) -> dict[str, Any]:
        """``agent``'s view: the document for the Challenger, the question for the Reasoner."""
        core, role = self.core, AGENT_ROLES[agent]
        if role == "challenger":
            text = core.document.text if core.document is not None else ""
        elif core.task is not None:
            text = format_question(core.task.question, core.task.options)
        else:
            text = ""
        return {
            "role": ROLES.index(role),
            "stage": STAGES.index(core.stage),
            "text": text[: core.max_observation_chars],
        }

    # ------------------------------------------------------------------ render / close
    def render(self) -> str | None:
        """Render the core environment (``"ansi"`` returns text, ``"human"`` prints it)."""
        return self.core.render()

    def close(self) -> None:
        """Close the core environment."""
        self.core.close()

    # ------------------------------------------------------------------ helpers
    def _infos(self, acting_info: dict[str, Any]) -> dict[str, dict[str, Any]]:
        acting = _AGENT_OF_ROLE[acting_info["role"]]
        infos: dict[str, dict[str, Any]] = {}
        for agent in self.agents:
            if agent == acting:
                info = dict(acting_info)
            else:
                # The waiting agent learns whose turn it is, never the other role's prompt
                # (which would hand the Reasoner the document).
                info = {
                    "role": AGENT_ROLES[agent],
                    "stage": acting_info["stage"],
                    "rewards": dict(acting_info["rewards"]),
                    "document_id": acting_info.get("document_id"),
                }
                if "episode_summary" in acting_info:
                    info["episode_summary"] = acting_info["episode_summary"]
            info["acting"] = agent == acting and "episode_summary" not in acting_info
            infos[agent] = info
        return infos


raw_env = SpiceAECEnv
"""The unwrapped AEC class (PettingZoo naming convention)."""


def env(**kwargs: Any) -> AECEnv:
    """The AEC environment wrapped in PettingZoo's ``OrderEnforcingWrapper``.

    Args:
        **kwargs: ``render_mode`` and the keyword arguments of ``CorpusSelfPlayEnv``.
    """
    return wrappers.OrderEnforcingWrapper(SpiceAECEnv(**kwargs))


def parallel_env(**kwargs: Any) -> ParallelEnv:
    """A turn-based parallel form: each step takes a dict of actions, only the acting
    agent's is used (``infos[agent]["acting"]`` says which). See the module docstring.

    Args:
        **kwargs: ``render_mode`` and the keyword arguments of ``CorpusSelfPlayEnv``.
    """
    return turn_based_aec_to_parallel(env(**kwargs))
