"""Tasks: the Challenger's output, how it is parsed, and when it is valid."""

from spice_env.tasks.parsing import (
    TypeSelection,
    extract_json_object,
    parse_task,
    parse_type_selection,
)
from spice_env.tasks.task import FREE_FORM_ANSWER_TYPES, InvalidReason, Task, TaskType, TaskVerdict
from spice_env.tasks.validity import (
    ValidityConfig,
    answer_matches_type,
    grounding_score,
    is_answer_leaked,
    validate_task,
)

__all__ = [
    "FREE_FORM_ANSWER_TYPES",
    "InvalidReason",
    "Task",
    "TaskVerdict",
    "TaskType",
    "TypeSelection",
    "ValidityConfig",
    "answer_matches_type",
    "extract_json_object",
    "grounding_score",
    "is_answer_leaked",
    "parse_task",
    "parse_type_selection",
    "validate_task",
]
