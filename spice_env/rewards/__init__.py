"""Rewards of both roles: Challenger shapes over the K Reasoner outcomes, Reasoner correctness."""

from spice_env.rewards.challenger import (
    AbsoluteZeroReward,
    CallableChallengerReward,
    ChallengerReward,
    LearnabilityReward,
    RZeroReward,
    SpiceReward,
    ThresholdReward,
    list_challenger_rewards,
    make_challenger_reward,
    pass_rate,
    register_challenger_reward,
)
from spice_env.rewards.reasoner import (
    CorrectnessReward,
    FormatAwareCorrectnessReward,
    ReasonerReward,
    list_reasoner_rewards,
    make_reasoner_reward,
    register_reasoner_reward,
)
from spice_env.rewards.repetition import (
    average_linkage_clusters,
    bleu_distances,
    repetition_penalties,
    sentence_bleu,
)

__all__ = [
    "AbsoluteZeroReward",
    "CallableChallengerReward",
    "ChallengerReward",
    "CorrectnessReward",
    "FormatAwareCorrectnessReward",
    "LearnabilityReward",
    "RZeroReward",
    "ReasonerReward",
    "SpiceReward",
    "ThresholdReward",
    "average_linkage_clusters",
    "bleu_distances",
    "list_challenger_rewards",
    "list_reasoner_rewards",
    "make_challenger_reward",
    "make_reasoner_reward",
    "pass_rate",
    "register_challenger_reward",
    "register_reasoner_reward",
    "repetition_penalties",
    "sentence_bleu",
]
