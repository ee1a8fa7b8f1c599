"""Raw responses: any resource call, with the HTTP answer it ended on beside its model.

``client.batches.with_raw_response.get(batch_id)`` runs ``client.batches.get(batch_id)``
unchanged and returns a :class:`RawResponse`: the status, headers and request id of the
last API answer the call read, and :meth:`RawResponse.parse` for the model the plain
call returns (as the anthropic and openai SDKs offer it).

One mechanism serves every method: :func:`raw_response_wrapper` puts an
:class:`AnswerRecord` in a context variable for the length of the call, and the base
client writes each answer it reads into it (:func:`record_answer`). Nothing is written
per method, so a method added to a resource has its raw form at once. The record is a
mutable object shared by reference, so requests a method sends from tasks of its own
(which copy the context) report into it too.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Generic, ParamSpec, TypeVar

from attrs import define
from multidict import CIMultiDict, CIMultiDictProxy

from ._call import CallState
from ._headers import request_id_of
from ._redact import Redactor

__all__ = [
    "AnswerRecord",
    "RawResponse",
    "WithRawResponse",
    "raw_response_wrapper",
    "record_answer",
]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


@define
class AnswerRecord:
    """The last API answer read during one raw call (written by the base client)."""

    status_code: int | None = None
    headers: CIMultiDictProxy[str] | None = None
    content: bytes = b""
    method: str = ""
    url: str = ""
    attempts: int = 0


current_record: contextvars.ContextVar[AnswerRecord | None] = contextvars.ContextVar(
    "prolific_async_answer_record", default=None
)


def record_answer(
    state: CallState,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    method: str,
    url: str,
    redactor: Redactor,
) -> None:
    """Note the answer a call ended on: its headers (its request id), all of it for a raw call.

    What a caller sees passes ``redactor`` first, as an error's parts do: a server (or a
    proxy) that copies ``Authorization`` into ``X-Request-Id`` or the body must not put
    the token in a result's ``request_id``, a raw response's headers or its repr. The
    record is masked here; ``CallState.request_id`` is looked up, and masked, when read.
    """
    state.answer_headers = headers
    state.redactor = redactor
    record = current_record.get()
    if record is None:
        return
    record.status_code = status
    record.headers = CIMultiDictProxy(redactor.headers(headers))
    record.content = redactor.data(content)
    record.method = method
    record.url = url
    record.attempts = state.sent


class RawResponse(Generic[T]):
    """A call's last HTTP answer, and the model the plain call returns.

    For a method that sends several requests (a wait that polls, an upload), the
    answer is the last API answer it read; storage transfers are not API answers.
    A call that fails raises as the plain call does: an :class:`APIStatusError`
    carries the status, headers and request id of its answer itself.

    The headers, request id and content are as read, the client's token masked.
    """

    def __init__(self, parsed: T, record: AnswerRecord, *, elapsed: float) -> None:
        self._parsed = parsed
        self._record = record
        self.elapsed: Final = elapsed
        """Seconds the whole call took, retries and waits included."""

    def __repr__(self) -> str:
        return (
            f"<RawResponse [{self.status_code}] {self.method} {self.url} "
            f"request_id={self.request_id!r}>"
        )

    @property
    def status_code(self) -> int:
        """The HTTP status of the answer (``0`` if the call read none)."""
        return self._record.status_code or 0

    @property
    def status(self) -> int:
        """The same as :attr:`status_code`."""
        return self.status_code

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The answer's headers (case-insensitive; empty if the call read none)."""
        headers = self._record.headers
        return headers if headers is not None else CIMultiDictProxy(CIMultiDict())

    @property
    def request_id(self) -> str | None:
        """The server's id for the answer (``X-Request-Id`` or a similar header)."""
        return request_id_of(self.headers)

    @property
    def method(self) -> str:
        """The method of the request the answer came for."""
        return self._record.method

    @property
    def url(self) -> str:
        """The URL of the request the answer came for."""
        return self._record.url

    @property
    def attempts(self) -> int:
        """How many attempts that request took (retries inside the client included)."""
        return self._record.attempts

    @property
    def content(self) -> bytes:
        """The answer's body as it was read."""
        return self._record.content

    def json(self) -> Any:
        """The answer's body decoded as JSON (``None`` for an empty body)."""
        return json.loads(self.content) if self.content.strip() else None

    def parse(self) -> T:
        """The model the plain call returns (decoded once, when the call ended)."""
        return self._parsed

    @staticmethod
    def of(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[RawResponse[R]]]:
        """``method`` made to return a :class:`RawResponse`, its type kept (``.parse()``).

        ``RawResponse.of(client.batches.get)`` is ``client.batches.with_raw_response.get``,
        whose methods a type checker sees as returning ``RawResponse[Any]`` (they are
        looked up by name); through this, ``parse()`` has the plain method's type.
        """
        return raw_response_wrapper(method)


def raw_response_wrapper(
    method: Callable[P, Awaitable[T]],
) -> Callable[P, Awaitable[RawResponse[T]]]:
    """``method`` made to return a :class:`RawResponse` around what it returns."""

    @functools.wraps(method)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        record = AnswerRecord()
        reset = current_record.set(record)
        started = time.monotonic()
        try:
            parsed = await method(*args, **kwargs)
        except BaseException:
            del record  # the answer an error ended on stays out of its traceback's locals
            raise
        finally:
            current_record.reset(reset)
        return RawResponse(parsed, record, elapsed=time.monotonic() - started)

    return wrapped


class WithRawResponse(Generic[R]):
    """Every public async method of a resource, returning a :class:`RawResponse`.

    Its methods are found by name, so a type checker sees each as returning
    ``RawResponse[Any]``; :meth:`RawResponse.of` keeps the method's type.

    ``client.batches.with_raw_response.get(batch_id)`` takes what ``client.batches.get``
    takes. The methods that yield many results (``create_many``, ``duplicate_many``)
    have no raw form: each of their results is a run of calls, not one answer.
    """

    def __init__(self, resource: R) -> None:
        self._resource = resource

    def __repr__(self) -> str:
        return f"<WithRawResponse of {self._resource!r}>"

    def __getattr__(self, name: str) -> Callable[..., Awaitable[RawResponse[Any]]]:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._resource, name)
        if not inspect.iscoroutinefunction(method):
            raise AttributeError(
                f"{type(self._resource).__name__}.{name} has no raw form: only the "
                "async methods that make one call return a RawResponse"
            )
        return raw_response_wrapper(method)
