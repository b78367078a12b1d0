"""Configuration of the reference GRPO agent: one dataclass per concern, and named presets.

Every field has a docstring right under it; :func:`field_docs` reads them from this source so
the same text is the documentation and the ``spice train --help``. Cross-field checks live in
``__post_init__`` and say how to fix a bad setting.

Presets (:data:`PRESETS`):

- ``cpu-tiny``: a tiny model built from a config and a tokenizer trained on the fly; seconds
  per iteration on a laptop CPU; what the tests run.
- ``cpu-smollm2``: the embedded real model (SmolLM2-135M-Instruct): the CPU recipe (warm
  start, B 4, G 4, K 16 with every valid task training the Reasoner, learning rate 3e-5, a
  57-minute budget, a tenth of the corpus held out).
- ``gpu-qwen3-4b``: the paper's hyperparameters (640 iterations, B 128, G 8, K 8,
  temperature 1.0, learning rate 1e-6 constant, KL 0) for Qwen3-4B-Base with vLLM generation.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = [
    "PRESETS",
    "SECTION_TYPES",
    "GenerationConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "SelfPlayConfig",
    "TrainConfig",
    "WarmStartConfig",
    "field_docs",
    "iter_fields",
    "make_preset",
]


@dataclass
class ModelConfig:
    """Which model plays both roles (shared weights), and how it is held in memory."""

    model: str = "tiny"
    """``"tiny"`` (built from a config, tokenizer trained on the fly), ``"smollm2"`` (the
    embedded SmolLM2-135M-Instruct, offline), ``"random:qwen3-4b"`` / ``"random:qwen3-0.6b"``
    (real shape, random weights, no download: throughput tests), or a Hugging Face model name
    or local path."""
    dtype: str = "auto"
    """Training precision: ``"float32"``, ``"bfloat16"``, or ``"auto"`` (bfloat16 on a CUDA
    device that supports it, float32 elsewhere)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about 30% more compute."""
    attn_implementation: str | None = None
    """Passed to ``from_pretrained`` (e.g. ``"flash_attention_2"`` on GPU); None: default."""
    tiny_vocab_size: int = 512
    """Vocabulary of the on-the-fly tokenizer of the tiny model."""
    tiny_hidden_size: int = 64
    """Width of the tiny model."""
    tiny_layers: int = 2
    """Transformer blocks of the tiny model."""
    tiny_heads: int = 4
    """Attention heads of the tiny model."""

    def __post_init__(self) -> None:
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(
                f"dtype={self.dtype!r}; use 'auto', 'float32', 'bfloat16' or 'float16'"
            )
        if self.tiny_hidden_size % self.tiny_heads:
            raise ValueError(
                f"tiny_hidden_size={self.tiny_hidden_size} must be a multiple of "
                f"tiny_heads={self.tiny_heads}"
            )


@dataclass
class GenerationConfig:
    """How completions are sampled: the backend and the sampling parameters of both roles."""

    backend: str = "hf"
    """``"hf"`` (transformers ``generate`` on the training model itself; CPU or one GPU) or
    ``"vllm"`` (GPU; weights pushed from the trainer after every update)."""
    generation_batch_size: int = 8
    """Prompts per ``generate`` forward pass of the ``hf`` backend (memory vs. speed)."""
    temperature: float = 1.0
    """Sampling temperature of both roles (paper: 1.0; ``challenger_temperature`` can set the
    Challenger's apart). The loss scores tokens under the temperature that sampled them, so
    the policy gradient is taken for the distribution that was sampled."""
    challenger_temperature: float | None = None
    """Sampling temperature of the Challenger's stages alone (``None``: ``temperature``), for
    example below 1.0 to keep a warm-started Challenger nearer its likeliest outputs. Its
    tokens are scored under this temperature, so its gradient is the tempered policy's."""
    top_p: float = 1.0
    """Nucleus sampling threshold (1.0: off, as in the paper)."""
    challenger_constraint: str = "constrained"
    """``"constrained"``: the Challenger's outputs follow the env's JSON Schema of each stage
    (grammar-constrained decoding), and the loss scores its tokens under the same masked
    distribution; ``"off"``: free text, as in the paper (the format is learned through the
    invalid-task penalty)."""
    type_selection_max_new_tokens: int = 128
    """Token budget of the Challenger's task-type selection (a short JSON object)."""
    challenger_max_new_tokens: int = 1024
    """Token budget of the Challenger's task generation."""
    reasoner_max_new_tokens: int = 2048
    """Token budget of each Reasoner answer. The largest of the three budgets is Dr. GRPO's
    one constant normalizer for every token of both roles."""
    vllm_gpu_memory_utilization: float = 0.3
    """Share of GPU memory vLLM may take (the rest is for training), ``vllm`` backend only."""

    def __post_init__(self) -> None:
        if self.backend not in ("hf", "vllm"):
            raise ValueError(f"backend={self.backend!r}; use 'hf' or 'vllm'")
        if self.challenger_constraint not in ("constrained", "off"):
            raise ValueError(
                f"challenger_constraint={self.challenger_constraint!r}; use 'constrained' (JSON "
                "Schema decoding) or 'off' (free text, the paper's setting)"
            )
        if self.temperature <= 0:
            raise ValueError(
                f"temperature={self.temperature} must be positive: GRPO needs sampled, "
                "diverse answers (paper: 1.0)"
            )
        if self.challenger_temperature is not None and not self.challenger_temperature > 0:
            raise ValueError(
                f"challenger_temperature={self.challenger_temperature} must be positive "
                "(or None: the shared temperature)"
            )
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p} must be in (0, 1]")
        for name in (
            "type_selection_max_new_tokens",
            "challenger_max_new_tokens",
            "reasoner_max_new_tokens",
            "generation_batch_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")

    def temperature_of(self, role: str) -> float:
        """The sampling temperature of ``role`` (``"challenger"`` or ``"reasoner"``)."""
        if role == "challenger" and self.challenger_temperature is not None:
            return self.challenger_temperature
        return self.temperature


@dataclass
class SelfPlayConfig:
    """The SPICE loop: documents, groups, attempts and the reward shapes (SPEC: Learning)."""

    batch_documents: int = 128
    """B: documents per iteration (paper: 128)."""
    group_size: int = 8
    """G: Challenger trajectories per document kept for training (paper: 8)."""
    num_answers: int = 8
    """K: Reasoner answers per valid task; they score the task for the Challenger and the
    chosen task's K answers form the Reasoner's group (paper: 8)."""
    reasoner_tasks_per_document: int = 1
    """How many of a document's answered valid tasks train the Reasoner, each as its own
    group of K answers: 1 (the paper: one drawn at random) or 0 for all of them. Every kept
    valid task is answered K times anyway (the answers give its Challenger reward), so more
    Reasoner groups cost update time only, no generation."""
    anchor_documents: int = 0
    """Extra documents per iteration on which a scripted Challenger (``anchor_challenger``)
    writes a task whose K answers train the Reasoner only: an anchor of grounded tasks beside
    the self-play ones. Their Challenger turns are neither trained nor counted in the
    Challenger's metrics (they are logged under ``anchor``). 0: pure self-play, the paper."""
    anchor_challenger: str = "scripted"
    """Env policy spec that writes the anchor tasks: ``scripted`` (a number or term blanked
    out of any sentence; mostly recall of the document) or ``scripted-computed`` (only the
    result of a computation the sentence writes out, so the question alone gives it)."""
    max_attempts: int = 8
    """N: Challenger attempts per document, made in rounds of G until one is valid (paper:
    1024). G trajectories are then sub-sampled keeping the valid:invalid ratio."""
    challenger_reward: str = "spice"
    """Challenger reward shape from the env registry: ``spice``, ``absolute_zero``,
    ``threshold``, ``r_zero``, ``learnability`` or a name you registered."""
    repetition_penalty: bool = False
    """Subtract R-Zero's repetition penalty (BLEU-distance clusters of the whole batch, all
    processes) from every kept task's Challenger reward, valid or not."""
    reasoner_reward: str = "correctness"
    """Reasoner reward from the env registry (``correctness``, ``format_aware``)."""
    task_types: tuple[str, ...] = ("mcq", "free_form")
    """Task types the Challenger may write."""
    corpus: str | None = None
    """Documents: None (the embedded corpus), a JSONL/Parquet/CSV file, a folder of text
    files, or ``hf:NAME``."""
    text_field: str = "text"
    """Corpus field holding the text (comma-separate to join several)."""
    id_field: str | None = None
    """Corpus field holding document ids (None: rows are numbered)."""
    max_segment_tokens: int = 5992
    """Documents are cut into segments of at most this many tokens (paper: 5,992)."""
    holdout_fraction: float = 0.0
    """Share of source documents held out of training, chosen by a hash of their id: the
    trainer never draws them, so evaluation tasks written from them (``spice tasks`` with the
    same fraction) measure a lift on unseen documents (0: no split)."""
    challenger: str = "model"
    """Who writes tasks: ``"model"`` (self-play, trained) or an env policy spec such as
    ``"scripted"`` (a fixed Challenger; only the Reasoner learns)."""
    tasks_file: str | None = None
    """JSONL of tasks (``Task.to_dict`` rows): train the Reasoner alone on them, no
    Challenger. ``batch_documents`` tasks are drawn per iteration."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for ``gym.make("SpiceCorpus-v0", ...)``."""

    def __post_init__(self) -> None:
        self.task_types = tuple(self.task_types)
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction={self.holdout_fraction} must be in [0, 1)")
        for name in ("batch_documents", "group_size", "num_answers", "max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        if self.reasoner_tasks_per_document < 0:
            raise ValueError(
                f"reasoner_tasks_per_document={self.reasoner_tasks_per_document}; use 1 (the "
                "paper), another positive number, or 0 for every answered valid task"
            )
        if self.anchor_documents < 0:
            raise ValueError(f"anchor_documents={self.anchor_documents} must be 0 or more")
        if self.max_attempts < self.group_size:
            raise ValueError(
                f"max_attempts={self.max_attempts} < group_size={self.group_size}: attempts come "
                "in rounds of G, so set max_attempts to at least group_size (paper: 1024 >= 8)"
            )
        if self.num_answers < 2:
            raise ValueError(
                f"num_answers={self.num_answers}: the Challenger reward needs the variance of at "
                "least 2 answers and the Reasoner group needs 2 members; use K >= 2 (paper: 8)"
            )
        if self.tasks_file is not None and self.challenger != "model":
            raise ValueError("tasks_file trains the Reasoner alone; leave challenger='model'")
        if self.tasks_file is not None and self.anchor_documents:
            raise ValueError(
                "tasks_file trains the Reasoner alone on its tasks; set anchor_documents=0"
            )


@dataclass
class OptimConfig:
    """Dr. GRPO and the optimizer."""

    learning_rate: float = 1e-6
    """AdamW learning rate after warm-up (paper: 1e-6, constant)."""
    warmup_steps: int = 0
    """Optimizer steps of linear warm-up from 0; constant afterwards."""
    weight_decay: float = 0.0
    """AdamW decoupled weight decay."""
    adam_beta1: float = 0.9
    """AdamW beta1."""
    adam_beta2: float = 0.999
    """AdamW beta2."""
    adam_eps: float = 1e-8
    """AdamW epsilon."""
    max_grad_norm: float = 1.0
    """Clip the global gradient norm to this (0: no clipping)."""
    micro_batch_size: int = 8
    """Sequences per forward/backward; gradients accumulate over the whole batch, so this
    changes memory, never the update."""
    minibatches: int = 1
    """Optimizer steps per pass over the batch (1: one on-policy step per iteration)."""
    updates_per_batch: int = 1
    """Passes over each batch (PPO epochs). Above 1 (or with minibatches > 1) the old
    log-probabilities are stored and the ratio is clipped."""
    clip_eps_low: float = 0.2
    """PPO clip range below 1: ratio >= 1 - clip_eps_low."""
    clip_eps_high: float = 0.2
    """PPO clip range above 1: ratio <= 1 + clip_eps_high (raise it for DAPO's clip-higher)."""
    kl_coef: float = 0.0
    """Weight of the k3 KL estimate to a frozen reference: the model self-play starts from,
    so the warm-started one when there is a warm start (paper: 0; a reference copy is only
    built when this is positive)."""
    skip_zero_advantage: bool = True
    """Leave sequences with zero advantage out of the forward/backward. Exact (their policy
    gradient is zero) when kl_coef is 0; they still count in the constant normalizer."""

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate={self.learning_rate} must be positive")
        if self.micro_batch_size < 1 or self.minibatches < 1 or self.updates_per_batch < 1:
            raise ValueError("micro_batch_size, minibatches and updates_per_batch must be >= 1")
        if self.kl_coef < 0:
            raise ValueError(f"kl_coef={self.kl_coef} must be >= 0 (paper: 0)")
        if not (0 <= self.clip_eps_low < 1 and self.clip_eps_high >= 0):
            raise ValueError("clip_eps_low must be in [0, 1) and clip_eps_high >= 0")
        if self.max_grad_norm < 0 or self.warmup_steps < 0:
            raise ValueError("max_grad_norm and warmup_steps must be >= 0")


_WARM_START_CHALLENGERS = ("scripted", "scripted-computed")


@dataclass
class WarmStartConfig:
    """An optional supervised warm start before self-play (the "cold start" of RL recipes).

    The scripted Challenger writes tasks from training documents; the model is fine-tuned to
    answer them in the Reasoner's format (a final ``\\boxed{}`` answer, the only one the
    training verifier reads), and optionally to write them as the Challenger (the stages'
    JSON). Off by default, as in the paper.
    """

    warm_start_reasoner_examples: int = 0
    """Reasoner examples (prompt -> the words around the blank filled in, then the boxed gold
    answer) to fine-tune on first (0: none)."""
    warm_start_challenger_examples: int = 0
    """Challenger examples (type selection and task JSON of the scripted Challenger) (0: none)."""
    warm_start_epochs: int = 2
    """Passes over the warm-start examples."""
    warm_start_learning_rate: float = 2e-5
    """AdamW learning rate of the warm start (its own optimizer, discarded afterwards)."""
    warm_start_batch_size: int = 8
    """Examples per warm-start optimizer step."""
    warm_start_challenger: str = "scripted"
    """The scripted Challenger whose valid tasks make the examples of both roles:
    ``scripted`` (a number or term blanked out of any sentence; mostly recall of the
    document) or ``scripted-computed`` (only the result of a computation the sentence writes
    out, so the question alone gives it; the Challenger then starts from answerable tasks)."""

    def __post_init__(self) -> None:
        for name in ("warm_start_reasoner_examples", "warm_start_challenger_examples"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0 (0: none)")
        if self.warm_start_epochs < 1 or self.warm_start_batch_size < 1:
            raise ValueError("warm_start_epochs and warm_start_batch_size must be >= 1")
        if self.warm_start_challenger not in _WARM_START_CHALLENGERS:
            raise ValueError(
                f"warm_start_challenger={self.warm_start_challenger!r}: expected one of "
                f"{', '.join(_WARM_START_CHALLENGERS)}"
            )
        if self.warm_start_learning_rate <= 0:
            raise ValueError(
                f"warm_start_learning_rate={self.warm_start_learning_rate} must be > 0"
            )

    @property
    def enabled(self) -> bool:
        """Whether there is a warm start at all."""
        return bool(self.warm_start_reasoner_examples or self.warm_start_challenger_examples)


@dataclass
class RunConfig:
    """Length of the run, seeding, and what is written where."""

    iterations: int = 640
    """Training iterations (one batch of B documents each; paper: 640)."""
    seed: int = 0
    """Seed of everything: documents, sampling, task choice, model init (tiny)."""
    output_dir: str = "runs/spice"
    """Run folder: ``config.json``, ``metrics.jsonl``, ``samples.jsonl``, ``checkpoints/``,
    ``plots/``."""
    checkpoint_every: int = 50
    """Save a checkpoint every this many iterations (0: only at the end and on a signal)."""
    keep_checkpoints: int = 2
    """Checkpoints kept on disk; older ones are deleted."""
    keep_resumable: int = 1
    """Of the kept checkpoints, the newest this many keep the optimizer state a resume needs;
    older ones keep the weights only (``WEIGHTS_ONLY``: enough for ``spice eval`` and
    ``spice probe``, a third of the size with AdamW)."""
    save_final_model: bool = True
    """Write the trained model and tokenizer to ``final/`` with ``save_pretrained``."""
    tensorboard: bool = False
    """Also log metrics to TensorBoard under ``tensorboard/`` (needs ``tensorboard``)."""
    progress: bool = True
    """Show a progress bar over iterations."""
    log_samples: int = 2
    """Example prompts/completions per role written to ``samples.jsonl`` each iteration."""
    plot: bool = True
    """Write PNG curves to ``plots/`` at the end of the run."""
    torch_threads: int = 0
    """CPU threads for torch (0: torch's default). 1 is fastest for tiny models and when
    several processes share few cores."""
    max_minutes: float = 0.0
    """Wall-clock budget of one ``train`` call in minutes, the warm start included (0: none):
    the run ends, with its final checkpoint, model and summary, after the last iteration that
    is expected to finish within it (judged from the mean time of the last three iterations;
    at least one iteration runs)."""
    no_signal_patience: int = 3
    """Warn when a role has had no learning signal (every advantage zero) for this many
    iterations in a row, and when the Reasoner's multiple-choice answers over this many
    iterations pile on one letter (0: never)."""

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError(f"iterations={self.iterations} must be >= 0")
        if self.checkpoint_every < 0 or self.keep_checkpoints < 1 or self.keep_resumable < 1:
            raise ValueError(
                "checkpoint_every must be >= 0, keep_checkpoints and keep_resumable >= 1"
            )
        if self.torch_threads < 0:
            raise ValueError(f"torch_threads={self.torch_threads} must be >= 0 (0: default)")
        if self.max_minutes < 0:
            raise ValueError(f"max_minutes={self.max_minutes} must be >= 0 (0: no limit)")
        if self.no_signal_patience < 0:
            raise ValueError(f"no_signal_patience={self.no_signal_patience} must be >= 0")


@dataclass
class TrainConfig:
    """The whole configuration of a run: one section per concern."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """The model and its precision."""
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    """Sampling backend and budgets."""
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)
    """The SPICE loop."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Dr. GRPO and AdamW."""
    warmstart: WarmStartConfig = field(default_factory=WarmStartConfig)
    """An optional supervised warm start before self-play."""
    run: RunConfig = field(default_factory=RunConfig)
    """Length, seed, outputs."""
    preset: str | None = None
    """Name of the preset this configuration started from (informational)."""

    def __post_init__(self) -> None:
        built_here = self.model.model == "tiny" or self.model.model.startswith("random:")
        if self.generation.backend == "vllm" and built_here:
            raise ValueError(
                f"the vllm backend loads weights by name; use backend='hf' with "
                f"model={self.model.model!r}"
            )

    # -- (de)serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    def to_json(self) -> str:
        """Indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        sections: dict[str, Any] = {}
        for section in fields(cls):
            if section.name == "preset":
                continue
            section_cls = SECTION_TYPES[section.name]
            values = dict(data.get(section.name, {}))
            known = {f.name for f in fields(section_cls)}
            unknown = set(values) - known
            if unknown:
                raise ValueError(f"unknown {section.name} settings {sorted(unknown)}")
            sections[section.name] = section_cls(**values)
        return cls(**sections, preset=data.get("preset"))

    def replace(self, **overrides: Any) -> TrainConfig:
        """A copy with flat overrides applied (``learning_rate=1e-5, iterations=3``).

        Field names are unique across sections, so a flat name is enough. Values are
        converted to the field's type when given as strings (as from a command line).
        Raises ``ValueError`` for an unknown name.
        """
        data = self.to_dict()
        owners = {name: section for section, name, _ in iter_fields()}
        for name, value in overrides.items():
            if name not in owners:
                raise ValueError(f"unknown setting {name!r}; see `spice train --help` for the list")
            section = owners[name]
            current = data[section][name]
            data[section][name] = _convert(value, _field_type(section, name), current)
        return TrainConfig.from_dict(data)


SECTION_TYPES: dict[str, type] = {
    "model": ModelConfig,
    "generation": GenerationConfig,
    "selfplay": SelfPlayConfig,
    "optim": OptimConfig,
    "warmstart": WarmStartConfig,
    "run": RunConfig,
}
"""Config section name -> its dataclass."""


def iter_fields() -> Iterator[tuple[str, str, dataclasses.Field]]:
    """Yield ``(section, name, field)`` for every setting of :class:`TrainConfig`."""
    for section, section_cls in SECTION_TYPES.items():
        for f in fields(section_cls):
            yield section, f.name, f


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, read from its source (as CleanRL's
    ``tyro`` does), so the docs and the ``--help`` are one text."""
    tree = ast.parse(inspect.cleandoc("\n" + inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def _field_type(section: str, name: str) -> str:
    annotation = {f.name: f.type for f in fields(SECTION_TYPES[section])}[name]
    return str(annotation)


def _convert(value: Any, annotation: str, current: Any) -> Any:
    """Convert a command-line string to the field's type; other values pass through."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "None" in annotation and text.lower() in ("none", "null", ""):
        return None
    if annotation.startswith("bool"):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{value!r} is not a boolean; use true or false")
    if annotation.startswith("int"):
        return int(float(text)) if "e" in text.lower() else int(text)
    if annotation.startswith("float"):
        return float(text)
    if annotation.startswith("tuple"):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if annotation.startswith("dict"):
        return json.loads(text)
    return text if current is None or isinstance(current, str) else type(current)(text)


# -- presets --------------------------------------------------------------------------------
def _cpu_tiny() -> TrainConfig:
    return TrainConfig(
        preset="cpu-tiny",
        model=ModelConfig(model="tiny", dtype="float32"),
        generation=GenerationConfig(
            temperature=1.0,
            # Large enough for the Challenger's JSON Schemas, so the tiny model exercises the
            # constrained path (its grammar masks are replayed in the loss).
            type_selection_max_new_tokens=64,
            challenger_max_new_tokens=160,
            reasoner_max_new_tokens=8,
            generation_batch_size=32,
        ),
        selfplay=SelfPlayConfig(
            batch_documents=2,
            group_size=2,
            num_answers=2,
            max_attempts=2,
            max_segment_tokens=96,
        ),
        optim=OptimConfig(learning_rate=1e-3, micro_batch_size=8),
        run=RunConfig(
            iterations=4, output_dir="runs/cpu-tiny", checkpoint_every=2, torch_threads=1
        ),
    )


def _cpu_smollm2() -> TrainConfig:
    # The CPU recipe for 2 cores and under an hour (measured in the README's self-play
    # section, on GSM8K worked solutions: examples/gsm8k_corpus.py). A short supervised warm
    # start on scripted tasks from training documents teaches the boxed answer and the task
    # JSON (strict mode pays nothing for an unboxed answer, and a 135M model rarely boxes).
    # The Reasoner is the role short of signal: most tasks are answered 0/K by a 135M model, so
    # K is 16 and every answered valid task trains it (its K answers exist anyway). Anchor
    # tasks (anchor_documents=8, one self-play task per document) were measured and left out:
    # 10 iterations instead of 19 in the hour, no Reasoner lift on the held-out set (README).
    # Documents of up to 256 tokens keep a worked problem whole. A tenth of the corpus is
    # held out.
    # Scale B, G, K and the budgets up on a bigger machine.
    return TrainConfig(
        preset="cpu-smollm2",
        model=ModelConfig(model="smollm2", dtype="float32"),
        generation=GenerationConfig(
            temperature=1.0,
            type_selection_max_new_tokens=64,
            challenger_max_new_tokens=256,
            reasoner_max_new_tokens=64,
            generation_batch_size=16,
        ),
        selfplay=SelfPlayConfig(
            batch_documents=4,
            group_size=4,
            num_answers=16,
            reasoner_tasks_per_document=0,
            max_attempts=4,
            max_segment_tokens=256,
            holdout_fraction=0.1,
        ),
        optim=OptimConfig(learning_rate=3e-5, micro_batch_size=4),
        warmstart=WarmStartConfig(
            warm_start_reasoner_examples=96,
            warm_start_challenger_examples=32,
            warm_start_epochs=2,
        ),
        run=RunConfig(
            iterations=100,
            max_minutes=57.0,
            output_dir="runs/cpu-smollm2",
            checkpoint_every=4,
            keep_checkpoints=20,
            torch_threads=2,
        ),
    )


def _gpu_qwen3_4b() -> TrainConfig:
    return TrainConfig(
        preset="gpu-qwen3-4b",
        model=ModelConfig(
            model="Qwen/Qwen3-4B-Base",
            dtype="bfloat16",
            gradient_checkpointing=True,
            attn_implementation="flash_attention_2",
        ),
        generation=GenerationConfig(
            backend="vllm",
            temperature=1.0,
            type_selection_max_new_tokens=256,
            challenger_max_new_tokens=1024,
            reasoner_max_new_tokens=4096,
        ),
        selfplay=SelfPlayConfig(
            batch_documents=128, group_size=8, num_answers=8, max_attempts=1024
        ),
        optim=OptimConfig(learning_rate=1e-6, kl_coef=0.0, micro_batch_size=2),
        run=RunConfig(iterations=640, output_dir="runs/gpu-qwen3-4b", checkpoint_every=20),
    )


PRESETS: dict[str, Callable[[], TrainConfig]] = {
    "cpu-tiny": _cpu_tiny,
    "cpu-smollm2": _cpu_smollm2,
    "gpu-qwen3-4b": _gpu_qwen3_4b,
}
"""Preset name -> factory of a fresh :class:`TrainConfig`."""


def make_preset(name: str, **overrides: Any) -> TrainConfig:
    """A preset with flat overrides, e.g. ``make_preset("cpu-tiny", iterations=2)``.

    Raises:
        ValueError: For an unknown preset (the message lists the known ones) or setting.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    config = PRESETS[name]()
    return config.replace(**overrides) if overrides else config
