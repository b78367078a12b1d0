"""Prompt templates for both roles, written for this project after the SPICE paper's protocol.

Every prompt is a :class:`string.Template` (``$document``, ``$question``...), because documents,
JSON examples and LaTeX are full of braces that ``str.format`` would trip over. Override any
field of :class:`PromptTemplates` and hand it to the environment (``prompts=...``).

Two sets ship. :data:`PAPER_PROMPTS` follows the paper's protocol: instructions, the
document, rules, then a JSON template to fill. :data:`DEFAULT_PROMPTS` asks for the same
fields but puts the document last, right before the reply, and names the fields in prose
instead of a template: measured with SmolLM2-135M under the JSON-Schema grammar, 9 of 16
Challenger tasks passed the env's checks against 5 of 16 with the paper's layout, whose
placeholders ("...", "A, B, C or D") the small model copied into its questions. (A worked
example did worse still, 5 of 16: the model copied the example's question.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from string import Template

__all__ = [
    "DEFAULT_PROMPTS",
    "OPTION_LETTERS",
    "PAPER_PROMPTS",
    "PromptTemplates",
    "format_question",
]

OPTION_LETTERS = ("A", "B", "C", "D")

_TYPE_SELECTION = """\
You will design an exam question from the document below. First decide which kinds of
question the document can support.

<document>
$document
</document>

A multiple-choice question fits when the document holds facts, relations or reasoning steps
from which one correct option and three plausible wrong options can be built. A free-form
question fits when a multi-step problem drawn from the document has a single checkable answer:
an integer, a mathematical expression, or a short phrase of at most three words.

Reply with one JSON object and nothing else:
{"suitable_for_mcq": true or false, "suitable_for_free_form": true or false,
 "best_answer_type": "Integer" or "Expression" or "String" or null, "reason": "one sentence"}"""

_MCQ = """\
Write one hard multiple-choice question grounded in the document below.

<document>
$document
</document>

Rules:
- The question must stand alone: whoever answers it will not see the document, so never write
  "according to the text" or refer to "the passage"; state every number and fact it needs.
- Make it demand several reasoning steps, not a look-up of one sentence.
- Give exactly four options, one correct, the three others wrong but tempting.
- If the document supports no such question, return empty strings for every field.

Reply with one JSON object and nothing else:
{"question": "...", "options": {"A": "...", "B": "...", "C": "...", "D": "..."},
 "answer": "A, B, C or D", "solution": "short step-by-step justification"}"""

_FREE_FORM = """\
Write one hard free-form question grounded in the document below. Its answer must be
$answer_type_rule

<document>
$document
</document>

Rules:
- The question must stand alone: whoever answers it will not see the document, so never write
  "according to the text" or refer to "the passage"; state every number and fact it needs.
- Make it demand several reasoning steps, not a look-up of one sentence.
- The answer must be unique and checkable by a rule, never a sentence.
- If the document supports no such question, return empty strings for every field.

Reply with one JSON object and nothing else:
{"question": "...", "answer": "...", "answer_type": "$answer_type",
 "solution": "step-by-step solution ending with the answer"}"""

_ANSWER_TYPE_RULES = {
    "Integer": "a single integer (digits only, e.g. 42).",
    "Expression": "a mathematical expression or value in LaTeX or plain math (e.g. \\frac{3}{4}, 2x+1).",
    "String": "a short phrase of at most three words (e.g. a name or a term).",
}

# -- Challenger prompts with the document last (the default) -------------------------------------
# Small models continue from what they read last: with the document right before the reply
# (and no JSON template whose "..." placeholders they copy), SmolLM2-135M draws its questions
# from the document far more often. The field list stays in prose; under a grammar the JSON
# shape comes from the schema.
_TYPE_SELECTION_LAST = """\
You will design an exam question from the document at the end. First decide which kinds of
question the document can support.

A multiple-choice question fits when the document holds facts from which one correct option
and three plausible wrong options can be built. A free-form question fits when a problem drawn
from the document has a single checkable answer: an integer, a mathematical expression, or a
short phrase of at most three words.

Reply with one JSON object: suitable_for_mcq (true or false), suitable_for_free_form (true or
false), best_answer_type ("Integer", "Expression", "String" or null) and reason (one short
sentence about the document).

<document>
$document
</document>"""

_MCQ_LAST = """\
Write one multiple-choice question about a fact stated in the document at the end.

Rules:
- Build the question from the document's own words and facts. Whoever answers will not see the
  document, so never mention "the text" or "the passage".
- Give four different options: one correct, three wrong but believable.
- Reply with one JSON object: question, options (A, B, C, D), answer (the letter of the
  correct option) and solution (one sentence from the document that proves the answer).

<document>
$document
</document>"""

_FREE_FORM_LAST = """\
Write one question about a fact stated in the document at the end. Its answer must be
$answer_type_rule

Rules:
- Build the question from the document's own words and facts. Whoever answers will not see the
  document, so the question must state what it needs and never mention "the text".
- The answer must be unique and short, never a sentence.
- Reply with one JSON object: question, answer, answer_type ("$answer_type") and solution (one
  sentence from the document that proves the answer).

<document>
$document
</document>"""

_REASONER_SYSTEM = "You are a helpful assistant."

_REASONER_USER = """\
$question

Reason step by step, then give your final answer within \\boxed{}."""

# No example letter: with "e.g. \boxed{C}" here SmolLM2 answered C to 36 of 56 held-out
# multiple-choice questions (gold C: 8) before and after training.
_REASONER_USER_MCQ = """\
$question

Reason step by step, then give the letter of the correct option within \\boxed{}."""

_REASONER_BASE = """\
A conversation between User and Assistant. The User asks a question and the Assistant solves
it. The Assistant first thinks through the reasoning, then states the final answer inside
\\boxed{}.

User: $question
Assistant:"""


def format_question(question: str, options: Sequence[str] | None = None) -> str:
    """Render a question with its lettered options (``A. ...``) the way the Reasoner sees it.

    Args:
        question: The question text.
        options: Four option texts in A-D order, or ``None`` for a free-form question.

    Returns:
        The question, followed by one line per option when there are options.
    """
    if not options:
        return question
    lines = [question, ""]
    lines += [f"{letter}. {text}" for letter, text in zip(OPTION_LETTERS, options)]
    return "\n".join(lines)


@dataclass(frozen=True)
class PromptTemplates:
    """The prompts of both roles. Each field is a :class:`string.Template` source string.

    Placeholders: ``$document`` (Challenger prompts), ``$answer_type`` and
    ``$answer_type_rule`` (free-form Challenger), ``$question`` (Reasoner prompts; the options
    of a multiple-choice question are already rendered into it).
    """

    challenger_system: str = ""
    """System message for both Challenger stages; empty means no system message."""
    type_selection: str = _TYPE_SELECTION_LAST
    """Stage 1: decide which task types the document supports; asks for strict JSON."""
    mcq: str = _MCQ_LAST
    """Stage 2, multiple choice: question, four options, a letter, a solution, as JSON."""
    free_form: str = _FREE_FORM_LAST
    """Stage 2, free form: question, typed answer, answer type, a solution, as JSON."""
    reasoner_system: str = _REASONER_SYSTEM
    """System message for chat Reasoners."""
    reasoner_user: str = _REASONER_USER
    """User message for a free-form question; asks for the answer in ``\\boxed{}``."""
    reasoner_user_mcq: str = _REASONER_USER_MCQ
    """User message for a multiple-choice question; asks for the letter in ``\\boxed{}``."""
    reasoner_base: str = _REASONER_BASE
    """Plain-text prompt for base models that have no chat template."""

    def with_overrides(self, **fields: str) -> PromptTemplates:
        """Return a copy with some templates replaced (unknown names raise ``TypeError``)."""
        return replace(self, **fields)

    # -- Challenger ---------------------------------------------------------------------------
    def _challenger(self, body: str) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.challenger_system}]
        messages.append({"role": "user", "content": body})
        return messages if self.challenger_system else messages[1:]

    def type_selection_messages(self, document: str) -> list[dict[str, str]]:
        """Chat messages for the Challenger's task-type selection stage."""
        return self._challenger(Template(self.type_selection).safe_substitute(document=document))

    def mcq_messages(self, document: str) -> list[dict[str, str]]:
        """Chat messages asking the Challenger for a multiple-choice task."""
        return self._challenger(Template(self.mcq).safe_substitute(document=document))

    def free_form_messages(
        self, document: str, answer_type: str = "Integer"
    ) -> list[dict[str, str]]:
        """Chat messages asking the Challenger for a free-form task of ``answer_type``."""
        rule = _ANSWER_TYPE_RULES.get(answer_type, _ANSWER_TYPE_RULES["Integer"])
        body = Template(self.free_form).safe_substitute(
            document=document, answer_type=answer_type, answer_type_rule=rule
        )
        return self._challenger(body)

    # -- Reasoner -----------------------------------------------------------------------------
    def reasoner_messages(
        self, question: str, options: Sequence[str] | None = None
    ) -> list[dict[str, str]]:
        """Chat messages for the Reasoner (system + user), options rendered into the question."""
        template = self.reasoner_user_mcq if options else self.reasoner_user
        user = Template(template).safe_substitute(question=format_question(question, options))
        messages = [{"role": "user", "content": user}]
        if self.reasoner_system:
            messages.insert(0, {"role": "system", "content": self.reasoner_system})
        return messages

    def reasoner_prompt(self, question: str, options: Sequence[str] | None = None) -> str:
        """A plain-text Reasoner prompt for base models without a chat template."""
        return Template(self.reasoner_base).safe_substitute(
            question=format_question(question, options)
        )


DEFAULT_PROMPTS = PromptTemplates()
"""The templates the environment uses unless told otherwise (the document last)."""

PAPER_PROMPTS = PromptTemplates(type_selection=_TYPE_SELECTION, mcq=_MCQ, free_form=_FREE_FORM)
"""The paper's layout: each Challenger prompt ends with a JSON template to fill."""
