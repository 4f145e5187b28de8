"""Rules on what a QuestionnaireResponse must hold as a whole: exclusive options, occurrences,
enableWhen, required items, constraints and the expressions behind them.

Generated documentation (docs/rules.md, the rapport-rules CodeSystem) is made from these
entries: `python -m service rules --write`.
"""

from __future__ import annotations

from ._rule import Rule

# Each entry is exported (`from .x import *`) and listed in the CodeSystem in this order.


QR_ANSWER_EXCLUSIVE = Rule(
    "qr-answer-exclusive",
    "error",
    "business-rule",
    "Exclusive option combined",
    definition="An answerOption marked optionExclusive must be the item's only answer.",
    checks="an optionExclusive option is the only answer",
    tests="R[exclusive option with another]; pass R[exclusive option alone]",
)

QR_OCCURS_MAX = Rule(
    "qr-occurs-max",
    "error",
    "structure",
    "More than maxOccurs",
    definition=(
        "An item has more answers, or a group more repetitions, than its questionnaire-maxOccurs "
        "allows."
    ),
    checks="questionnaire-maxOccurs (answers, or group repetitions)",
    tests="R[more answers than maxOccurs], R[more group repetitions than maxOccurs]",
)

QR_OCCURS_MIN = Rule(
    "qr-occurs-min",
    "as qr-required-missing",
    "required",
    "Fewer than minOccurs",
    definition=(
        "An enabled item has fewer answers, or a group fewer repetitions, than its "
        "questionnaire-minOccurs asks; an item left out counts as none. Reported with the same "
        "severity as a missing required item (a required item left out is reported once, as "
        "qr-required-missing)."
    ),
    checks=(
        "questionnaire-minOccurs on an enabled item: answers, or group repetitions; an item left "
        "out counts as none (a required one left out is reported once, as qr-required-missing)"
    ),
    tests=(
        "R[fewer answers than minOccurs], R[fewer group repetitions than minOccurs], R[not "
        "answered at all: zero answers, fewer than minOccurs], K[occurs/question left out counts "
        "as none], K[occurs/group left out counts as none], K[occurs/left out, in progress: a "
        "warning], `test_min_occurs_is_not_demanded_of_a_disabled_item`; pass K[occurs/at the "
        "maxima], K[occurs/left out, stopped: not demanded]"
    ),
)

QR_ANSWER_ON_DISABLED = Rule(
    "qr-answer-on-disabled",
    "error",
    "invariant",
    "Answer to a disabled item",
    definition=(
        "An item that enableWhen or enableWhenExpression disables (in that repetition of its group)"
        " must have no answers."
    ),
    checks="no answers on items enableWhen / enableWhenExpression disables (per repetition)",
    tests=(
        "V[answers on a disabled item (and its dependants)], "
        "`test_hand_crafted_answer_to_a_disabled_item`, R[ward answered in a repetition where it is"
        " disabled], R[days answered in a repetition whose %context disables it], R[pregnant "
        "answered though %age disables it], `test_an_expression_on_a_group_disables_its_items`, "
        "R[ward answered in a repetition without admitted: another's admitted does not count], "
        "`test_a_question_is_looked_up_in_the_nearest_common_instance`, "
        "`test_item_variables_are_evaluated_in_the_enclosing_repetition`, "
        "`test_enable.py::test_condition`"
    ),
)

QR_REQUIRED_MISSING = Rule(
    "qr-required-missing",
    "error (completed, amended), warning (in-progress), none (stopped, entered-in-error)",
    "required",
    "Required item missing",
    definition=(
        "An enabled required item has no answer: an error when the response is completed or "
        "amended, a warning while it is in progress, and not reported when it is stopped or "
        "entered-in-error."
    ),
    checks="required items on enabled items",
    tests=(
        "V[required item missing in a group], V[required item missing, in progress], V[required and"
        " enabled by a chain], R[ward required in the admitted repetition only]; pass V[disabled "
        "required items are not required], R[ward not required in a repetition without admitted]"
    ),
)

QR_CONSTRAINT = Rule(
    "qr-constraint",
    "the constraint's severity",
    "invariant",
    "Constraint not met",
    definition=(
        "A targetConstraint (or questionnaire-constraint) of the Questionnaire is false for this "
        "response. Reported with the constraint's own severity and text."
    ),
    checks=(
        "targetConstraint (or questionnaire-constraint) false, with `%resource`, `%questionnaire`, "
        "variables"
    ),
    tests=(
        "R[root constraint false], R[item constraint false, per repetition, at its location], "
        "`test_constraint_forms`, `test_item_variables_are_evaluated_in_the_enclosing_repetition`; "
        "pass R[item constraint not evaluated on a disabled item], "
        "`test_an_empty_constraint_result_passes`"
    ),
)

QR_EXPRESSION_FAILED = Rule(
    "qr-expression-failed",
    "warning",
    "processing",
    "Expression could not be evaluated",
    definition=(
        "An enableWhenExpression or a constraint failed when evaluated, or did not give a single "
        "true or false. A warning."
    ),
    checks="an enableWhenExpression or constraint failed or gave no single boolean",
    tests="`test_enable_when_expression_results`, `test_a_failing_variable_is_reported`",
)
