"""Held-out evaluation and the curriculum probe.

Evaluate any policy or LLM backend on benchmark files or hub datasets with the SPICE paper's
protocol (zero-shot; greedy pass@1; AIME avg@32 at temperature 0.6), resumably::

    from spice_env.evaluation import EvalConfig, evaluate
    from spice_env.evaluation.models import load_backend

    report = evaluate(load_backend("smollm2"), ["gsm8k", "math500"], "runs/eval/smollm2",
                      config=EvalConfig(limit=50, max_new_tokens=256), label="smollm2")
    print(report["summary"]["overall"])

and pit Challenger checkpoints against Reasoner checkpoints with :func:`run_probe`.
Importing this package is light: models, torch and matplotlib load only when used.
"""

from spice_env.evaluation.baselines import WrongFormatReasoner
from spice_env.evaluation.benchmarks import (
    BUILTIN_BENCHMARKS,
    GOLD_READERS,
    Benchmark,
    DatasetSource,
    EvalItem,
    get_benchmark,
    list_benchmarks,
    load_items,
    register_benchmark,
)
from spice_env.evaluation.cache import ItemCache
from spice_env.evaluation.metrics import aggregate, majority_correct, pass_at_k
from spice_env.evaluation.probe import ProbeConfig, ProbePlayer, run_probe
from spice_env.evaluation.report import compare_runs, load_report, summarize
from spice_env.evaluation.responders import (
    BackendResponder,
    DecodingSettings,
    PolicyResponder,
    Responder,
    Response,
    as_responder,
)
from spice_env.evaluation.runner import EvalConfig, decoding_for, evaluate

__all__ = [
    # benchmarks
    "BUILTIN_BENCHMARKS",
    "GOLD_READERS",
    "Benchmark",
    "DatasetSource",
    "EvalItem",
    "get_benchmark",
    "list_benchmarks",
    "load_items",
    "register_benchmark",
    # running
    "EvalConfig",
    "ItemCache",
    "decoding_for",
    "evaluate",
    # answerers
    "BackendResponder",
    "DecodingSettings",
    "PolicyResponder",
    "Responder",
    "Response",
    "WrongFormatReasoner",
    "as_responder",
    # scores and tables
    "aggregate",
    "compare_runs",
    "load_report",
    "majority_correct",
    "pass_at_k",
    "summarize",
    # curriculum probe
    "ProbeConfig",
    "ProbePlayer",
    "run_probe",
]
