"""A POST that creates a batch: its answer is the new batch, and an unreadable one says so.

A create or duplicate whose 2xx answer cannot be parsed did make a batch. Reported as a
plain validation error it would look like "nothing happened", and a caller who retried
would make a second one; so it becomes :class:`CreatedButUnreadableError`, carrying the
new id when the answer names one. The resources and the bulk layer both create through
:func:`post_creating`.
"""

from __future__ import annotations

from typing import Any

from ._base_client import BaseClient
from ._body import APIResponse, structure_response
from ._call import CallState
from ._json import shortened
from .errors import CreatedButUnreadableError, ResponseValidationError
from .models.batches import Batch

__all__ = ["post_creating"]


async def post_creating(
    client: BaseClient,
    path: str,
    *,
    body: Any,
    template: str | None = None,
    state: CallState | None = None,
) -> Batch:
    """POST ``body`` to ``path`` and read the answer as the batch it created.

    Raises:
        CreatedButUnreadableError: the answer was a 2xx that is not a readable batch.
    """
    try:
        response = await client.request(
            "POST", path, cast_to=APIResponse, body=body, template=template, state=state
        )
    except ResponseValidationError as error:  # a 2xx whose body is not JSON, or too large
        if not 200 <= error.status_code < 300:  # an error status too large to read
            raise
        raise _created(error, batch_id=None) from error
    try:
        return structure_response(
            response.data,
            Batch,
            status_code=response.status,
            method=response.method,
            url=response.url,
        )
    except ResponseValidationError as error:
        raise _created(error, batch_id=_id_in(response.data)) from error


def _id_in(data: Any) -> str | None:
    """The batch id an answer names, if it names one as a non-empty string."""
    if isinstance(data, dict):
        value = data.get("id")
        if isinstance(value, str) and value:
            return value
    return None


def _created(error: ResponseValidationError, *, batch_id: str | None) -> CreatedButUnreadableError:
    known = (
        f"batch {shortened(batch_id)} exists"
        if batch_id is not None
        else "a batch exists, but no id could be read from the answer (find it with batches.list)"
    )
    return CreatedButUnreadableError(
        f"The batch was created, but its answer could not be read: {known}. Do not send "
        f"the request again. ({error})",
        status_code=error.status_code,
        method=error.method,
        url=error.url,
        errors=error.errors,
        batch_id=batch_id,
    )
