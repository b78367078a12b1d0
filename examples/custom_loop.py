"""SpiceCorpus-v0 in a hand-written loop: ``gym.make``, ``reset``, ``step``, any policy.

Nothing here is specific to the bundled policies: anything with ``act(observation, info) -> str``
plays a role. The loop reads whose turn it is from ``info["role"]``, both roles' rewards from
``info["rewards"]``, and the episode summary from ``info["episode_summary"]`` at the end.

Run:
    python examples/custom_loop.py                                   # scripted vs noisy:0.6
    python examples/custom_loop.py --reasoner random --episodes 20
    python examples/custom_loop.py --challenger scripted:0.3         # 30% malformed tasks
    python examples/custom_loop.py --reasoner openai --base-url http://127.0.0.1:8080/v1

Policy names are those of ``spice_env.policies.make_policy`` (``scripted``, ``oracle``,
``random``, ``noisy:Q``, ``hf``, ``openai``, ``vllm``...).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import gymnasium as gym

import spice_env
from spice_env.policies import make_policy
from spice_env.rollout import summarize_episodes


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--challenger", default="scripted", help="Challenger policy (scripted)")
    parser.add_argument("--reasoner", default="noisy:0.6", help="Reasoner policy (noisy:0.6)")
    parser.add_argument("--episodes", type=int, default=8, help="episodes to play (8)")
    parser.add_argument("--attempts", type=int, default=8, help="K, answers per task (8)")
    parser.add_argument("--reward", default="spice", help="Challenger reward shape (spice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first reset (0)")
    parser.add_argument("--base-url", default=None, help="server for the openai policy")
    parser.add_argument("--model", default=None, help="model for LLM policies")
    return parser.parse_args(argv)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    llm_options = {
        key: value for key, value in (("base_url", args.base_url), ("model", args.model)) if value
    }
    policies = {
        "challenger": make_policy(
            args.challenger, role="challenger", seed=args.seed, **llm_options
        ),
        "reasoner": make_policy(args.reasoner, role="reasoner", seed=args.seed, **llm_options),
    }
    # privileged_info=True adds the gold to info["privileged"]; the loop hands it only to a
    # policy that asks for it (the scripted oracle and noisy Reasoners, stand-ins of known
    # skill), never to a model.
    env = gym.make(
        spice_env.ENV_ID,
        num_reasoner_attempts=args.attempts,
        challenger_reward=args.reward,
        privileged_info=True,
    )

    episodes = []
    for index in range(args.episodes):
        # Seed once; later resets continue the env's RNG, so the whole run repeats.
        observation, info = env.reset(seed=args.seed if index == 0 else None)
        totals = {"challenger": 0.0, "reasoner": 0.0}
        terminated = truncated = False
        while not (terminated or truncated):
            policy = policies[info["role"]]
            if not getattr(policy, "uses_privileged_info", False):
                info = {key: value for key, value in info.items() if key != "privileged"}
            action = policy.act(observation, info)
            observation, _, terminated, truncated, info = env.step(action)
            for role, reward in info["rewards"].items():
                totals[role] += reward
        episode = info["episode_summary"]
        episodes.append(episode)
        task = episode.get("task") or {}
        status = (
            f"pass rate {episode['pass_rate']:.2f}"
            if episode["valid"]
            else f"invalid ({episode['invalid_reason']})"
        )
        print(
            f"episode {index}: {episode['document_id']:<32} {task.get('task_type', '-'):<9} "
            f"{status:<28} r_C {totals['challenger']:+.3f}  sum r_R {totals['reasoner']:.0f}"
        )
    env.close()

    summary = summarize_episodes(episodes, args.attempts)
    mean_reward = summary["mean_reward"]
    print(
        f"valid {summary['valid']}/{summary['episodes']}, "
        f"mean pass rate {_fmt(summary['mean_pass_rate'])}, "
        f"mean r_C {_fmt(mean_reward['challenger'])}, mean r_R {_fmt(mean_reward['reasoner'])}"
    )
    return summary


if __name__ == "__main__":
    main()
