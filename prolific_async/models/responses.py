"""Task responses: what participants answered, one instruction per response."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from attrs import Factory, frozen

from ._base import Model
from .layout import AnswerValue, InstructionType

__all__ = [
    "InstructionResponse",
    "ResponseAnswer",
    "TaskResponse",
]


@frozen(kw_only=True)
class ResponseAnswer(Model):
    """One answer value; which fields are set depends on the instruction type.

    ``free_text`` and ``multiple_choice``: ``value``. ``free_text_with_unit``: ``value``
    and ``unit``. ``multiple_choice_with_free_text``: ``value`` and ``explanation``.
    ``file_upload``: ``file_key``, ``file_name``, ``file_size_mb`` and ``content_type``.
    A multiple-choice answer has one entry per chosen option.
    """

    value: AnswerValue | None = None
    """The text typed, the number entered, or the ``value`` of the option chosen (a string,
    a number or a boolean, as the option's own ``value``)."""
    unit: str | None = None
    """The ``value`` of the unit chosen (``free_text_with_unit``)."""
    explanation: str | None = None
    """The free text given for the chosen option (``multiple_choice_with_free_text``)."""
    file_key: str | None = None
    """The storage key of an uploaded file (``file_upload``)."""
    file_name: str | None = None
    """The uploaded file's original name."""
    file_size_mb: float | None = None
    """The uploaded file's size in megabytes."""
    content_type: str | None = None
    """The uploaded file's media type."""
    extra: dict[str, Any] = Factory(dict)
    """Answer keys this library does not model (for example of a newer instruction type)."""


@frozen(kw_only=True)
class InstructionResponse(Model):
    """A participant's answer to one instruction of one task."""

    instruction_id: str
    """The instruction (layout item) answered."""
    type: InstructionType | str
    """The instruction's type; a type this library does not know is kept as ``str``."""
    answer: list[ResponseAnswer] = Factory(list)
    """The answer values (several for a multiple-choice question with several choices)."""


@frozen(kw_only=True)
class TaskResponse(Model):
    """One response recorded for a task of a batch."""

    id: str
    """The response's id."""
    batch_id: str
    """The batch the task belongs to."""
    participant_id: str
    """The Prolific participant who answered."""
    task_id: str
    """The task answered."""
    response: InstructionResponse
    """The instruction answered and the answer."""
    created_at: datetime
    """When the response was recorded (timezone-aware, UTC)."""
    submission_id: str | None = None
    """The study submission the response is part of; ``None`` for a response given outside
    a submission (see :attr:`no_submission`)."""
    no_submission: bool | None = None
    """Whether the response was recorded without a study submission; ``None`` when the
    server does not say."""
    correlation_id: str | None = None
    """An id linking the responses given together."""
    metadata: dict[str, Any] | None = None
    """The datapoint's metadata (``META_`` columns, or ``metadata`` schema fields)."""
    schema_version: int | None = None
    """The response format version."""
