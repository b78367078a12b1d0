"""Tasks: the Challenger's output, its JSON Schemas, how it is parsed, and when it is valid."""

from spice_env.tasks.parsing import (
    TypeSelection,
    extract_json_object,
    parse_task,
    parse_type_selection,
)
from spice_env.tasks.schemas import (
    QUESTION_OPENERS,
    SCHEMA_NAMES,
    challenger_response_format,
    challenger_schema,
    free_form_schema,
    mcq_schema,
    refit_response_format,
    response_format,
    schema_from_response_format,
    schema_name,
    type_selection_schema,
)
from spice_env.tasks.task import FREE_FORM_ANSWER_TYPES, InvalidReason, Task, TaskType, TaskVerdict
from spice_env.tasks.validity import (
    ValidityConfig,
    answer_matches_type,
    asked_result,
    grounding_score,
    is_answer_leaked,
    is_question,
    validate_task,
    written_result,
)

__all__ = [
    "FREE_FORM_ANSWER_TYPES",
    "QUESTION_OPENERS",
    "SCHEMA_NAMES",
    "InvalidReason",
    "Task",
    "TaskVerdict",
    "TaskType",
    "TypeSelection",
    "ValidityConfig",
    "answer_matches_type",
    "asked_result",
    "challenger_response_format",
    "challenger_schema",
    "extract_json_object",
    "free_form_schema",
    "grounding_score",
    "is_answer_leaked",
    "is_question",
    "mcq_schema",
    "parse_task",
    "parse_type_selection",
    "refit_response_format",
    "response_format",
    "schema_from_response_format",
    "schema_name",
    "type_selection_schema",
    "validate_task",
    "written_result",
]
