"""The task a Challenger writes, and the outcome of checking one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, ClassVar

from spice_env.verifiers import FREE_FORM_ANSWER_TYPES

__all__ = ["FREE_FORM_ANSWER_TYPES", "InvalidReason", "Task", "TaskVerdict", "TaskType"]


class TaskType(str, Enum):
    """The two task formats of SPICE."""

    MCQ = "mcq"
    FREE_FORM = "free_form"


class InvalidReason(str, Enum):
    """Why a Challenger output is not a valid task. Every invalid output gets exactly one."""

    UNPARSABLE = "unparsable"
    """No JSON object with the expected keys could be read from the output."""
    NO_SUITABLE_TYPE = "no_suitable_type"
    """Task-type selection said the document supports neither MCQ nor free form."""
    EMPTY_FIELDS = "empty_fields"
    """The question or the answer is empty (the Challenger declined)."""
    NOT_A_QUESTION = "not_a_question"
    """The question asks nothing: no question mark, no blank to fill and no sentence that
    opens with a question word or an instruction (e.g. a sentence copied from the document,
    paired with an answer the Reasoner can guess)."""
    MCQ_BAD_OPTIONS = "mcq_bad_options"
    """A multiple-choice task without exactly four distinct, non-empty options."""
    MCQ_BAD_LETTER = "mcq_bad_letter"
    """A multiple-choice answer that is not one of A, B, C, D."""
    ANSWER_TYPE_MISMATCH = "answer_type_mismatch"
    """The answer is not of its declared type (Integer not an integer, String over 3 words...)."""
    GOLD_NOT_SELF_VERIFIABLE = "gold_not_self_verifiable"
    """The verifier cannot verify the gold answer against itself (e.g. unparsable math)."""
    GOLD_CONTRADICTS_QUESTION = "gold_contradicts_question"
    """The question writes out the computation its blank holds ("20 - 5 = ____") and the gold
    is another number: the task's own arithmetic says the gold is wrong."""
    ANSWER_LEAKED = "answer_leaked"
    """The gold answer appears verbatim in the question."""
    NOT_GROUNDED = "not_grounded"
    """The question's fuzzy overlap with the document is below the grounding threshold."""


@dataclass(frozen=True)
class Task:
    """A verifiable task written by the Challenger.

    Attributes:
        question: The self-contained question (without the options).
        answer: The gold answer: a letter ``A``-``D`` for multiple choice, else the typed answer.
        answer_type: ``"MCQ"``, ``"Integer"``, ``"Expression"`` or ``"String"``.
        task_type: :class:`TaskType` (``"mcq"`` or ``"free_form"``).
        options: The four option texts in A-D order for multiple choice, else ``None``.
        solution: The Challenger's worked solution, if it gave one.
        document_id: Id of the document the task was written from.
    """

    question: str
    answer: str
    answer_type: str
    task_type: TaskType
    options: tuple[str, ...] | None = None
    solution: str = ""
    document_id: str | None = None

    PUBLIC_FIELDS: ClassVar[tuple[str, ...]] = (
        "question",
        "options",
        "task_type",
        "answer_type",
        "document_id",
    )
    """The fields a Reasoner may read: everything but the gold answer and the solution."""

    @property
    def is_mcq(self) -> bool:
        """True for a multiple-choice task."""
        return self.task_type is TaskType.MCQ

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``task_type`` as its string value)."""
        data = asdict(self)
        data["task_type"] = self.task_type.value
        data["options"] = list(self.options) if self.options is not None else None
        return data

    def public_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the gold answer and the solution (what ``info["task"]``
        holds at the Reasoner's turn)."""
        data = self.to_dict()
        return {key: data[key] for key in self.PUBLIC_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Inverse of :meth:`to_dict`."""
        options = data.get("options")
        return cls(
            question=str(data["question"]),
            answer=str(data["answer"]),
            answer_type=str(data["answer_type"]),
            task_type=TaskType(data["task_type"]),
            options=tuple(options) if options is not None else None,
            solution=str(data.get("solution") or ""),
            document_id=data.get("document_id"),
        )


@dataclass(frozen=True)
class TaskVerdict:
    """The outcome of parsing and validating one Challenger output.

    Attributes:
        task: The parsed task, or ``None`` when the output could not be read as one. A task
            that parsed but failed a check is kept here so it can be logged.
        reason: ``None`` when valid, else the :class:`InvalidReason`.
        detail: A short human-readable explanation of the reason.
        grounding: The grounding score in [0, 1] when it was computed.
    """

    task: Task | None
    reason: InvalidReason | None = None
    detail: str = ""
    grounding: float | None = field(default=None)

    @property
    def valid(self) -> bool:
        """True when the output is a valid task."""
        return self.reason is None and self.task is not None
