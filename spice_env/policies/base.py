"""What the environment and its rollout helpers need from a policy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["BasePolicy", "Policy"]


@runtime_checkable
class Policy(Protocol):
    """A policy maps the acting role's observation and info to a text action.

    ``info["messages"]`` holds the chat messages built from the prompt templates (and
    ``info["prompt"]`` a plain prompt for base models), so a language-model policy only
    has to generate from them.
    """

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Return the text action for one turn."""
        ...

    def act_batch(
        self, observations: Sequence[dict[str, Any]], infos: Sequence[dict[str, Any]]
    ) -> list[str]:
        """Return one action per turn; LLM backends generate the whole batch at once."""
        ...


class BasePolicy:
    """Convenience base: implement :meth:`act`, get a looping :meth:`act_batch`."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        raise NotImplementedError

    def act_batch(
        self, observations: Sequence[dict[str, Any]], infos: Sequence[dict[str, Any]]
    ) -> list[str]:
        return [self.act(obs, info) for obs, info in zip(observations, infos)]
