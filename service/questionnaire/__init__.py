"""Everything about a Questionnaire: its content checks, and compiling it for responses.

Pure domain code (no Flask, no Redis). `check_resource` applies every content rule
(que-*, q-*, enableWhen, FHIRPath, SDC) to one resource; `compile_questionnaire` turns
a Questionnaire into the `CompiledQuestionnaire` that service.response works from.
"""

from __future__ import annotations

from .compile import CompiledQuestionnaire, Limits, compile_questionnaire

__all__ = ["CompiledQuestionnaire", "Limits", "compile_questionnaire"]
