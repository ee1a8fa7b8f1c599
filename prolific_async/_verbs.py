"""The public request verbs: ``get``/``post``/``patch``/``delete`` over one ``request``.

The escape hatch for endpoints the library does not wrap yet (as the anthropic SDK
offers it): each verb is :meth:`RequestVerbs.request` with its method filled in, so every
call goes through the same retry policy, 429 gate, error mapping and decoding.
``client.with_raw_response`` (:class:`RawVerbs`) has the same verbs, each returning a
:class:`~prolific_async.RawResponse` typed by its ``cast_to``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

from ._call import CallState
from ._raw import RawResponse, raw_response_wrapper

__all__ = ["RawVerbs", "RequestVerbs"]

T = TypeVar("T")

#: The client's other single-call methods with a raw form (``RawResponse[Any]``).
RAW_CLIENT_METHODS: Final = frozenset({"provision_batch"})


class RequestVerbs:
    """The verbs; the class they are mixed into provides :meth:`request`."""

    @functools.cached_property
    def with_raw_response(self) -> RawVerbs:
        """The verbs (and ``provision_batch``), each returning a ``RawResponse``.

        ``(await client.with_raw_response.get(path, cast_to=Batch)).parse()`` is a
        :class:`Batch` to a type checker too; ``provision_batch``'s raw form is typed
        ``RawResponse[Any]`` (its ``parse()`` is the READY batch).
        """
        return RawVerbs(self)

    async def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: Mapping[str, str] | None = None,
        template: str | None = None,
        state: CallState | None = None,
    ) -> T:
        """Send one API call and decode its 2xx answer as ``cast_to`` (see the client)."""
        raise NotImplementedError

    async def get(
        self,
        path: str,
        *,
        cast_to: type[T],
        params: Mapping[str, str] | None = None,
        template: str | None = None,
    ) -> T:
        """Send a GET to ``path`` (below the base URL) and decode its answer as ``cast_to``.

        The escape hatch for endpoints not wrapped yet: the request goes through the
        same retry policy, 429 gate and error mapping as every wrapped call.
        ``cast_to=APIResponse`` returns the decoded response as it is. ``template``
        names the endpoint (``/batches/{batch_id}``) for the once-per-endpoint
        deprecation warning.
        """
        return await self.request("GET", path, cast_to=cast_to, params=params, template=template)

    async def post(
        self,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: Mapping[str, str] | None = None,
        template: str | None = None,
    ) -> T:
        """Send a POST with a JSON ``body``; resent only when it provably did not act."""
        return await self.request(
            "POST", path, cast_to=cast_to, body=body, params=params, template=template
        )

    async def patch(
        self,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: Mapping[str, str] | None = None,
        template: str | None = None,
    ) -> T:
        """Send a PATCH with a JSON ``body`` and decode its answer as ``cast_to``."""
        return await self.request(
            "PATCH", path, cast_to=cast_to, body=body, params=params, template=template
        )

    async def delete(
        self,
        path: str,
        *,
        cast_to: type[T],
        params: Mapping[str, str] | None = None,
        template: str | None = None,
    ) -> T:
        """Send a DELETE to ``path`` and decode its answer as ``cast_to``."""
        return await self.request("DELETE", path, cast_to=cast_to, params=params, template=template)


class RawVerbs:
    """``client.with_raw_response``: each verb returning a :class:`RawResponse` of its answer."""

    def __init__(self, client: RequestVerbs) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<RawVerbs of {self._client!r}>"

    def __getattr__(self, name: str) -> Callable[..., Awaitable[RawResponse[Any]]]:
        if name not in RAW_CLIENT_METHODS or not hasattr(self._client, name):
            raise AttributeError(
                f"{type(self._client).__name__}.with_raw_response has no {name!r}: only "
                "request, get, post, patch, delete and provision_batch have a raw form"
            )
        method: Callable[..., Awaitable[Any]] = getattr(self._client, name)
        return raw_response_wrapper(method)

    async def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: Mapping[str, str] | None = None,
        template: str | None = None,
        state: CallState | None = None,
    ) -> RawResponse[T]:
        """:meth:`RequestVerbs.request`, returning its answer with the decoded ``cast_to``."""
        return await raw_response_wrapper(self._client.request)(
            method, path, cast_to=cast_to, body=body, params=params, template=template, state=state
        )

    async def get(
        self,
        path: str,
        *,
        cast_to: type[T],
        params: Mapping[str, str] | None = None,
        template: str | None = None,
    ) -> RawResponse[T]:
        """:meth:`RequestVerbs.get`, raw."""
        return await self.request("GET", path, cast_to=cast_to, params=params, template=template)

    async def post(
        self,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: Mapping[str, str] | None = None,
        template: str | None = None,
    ) -> RawResponse[T]:
        """:meth:`RequestVerbs.post`, raw."""
        return await self.request(
            "POST", path, cast_to=cast_to, body=body, params=params, template=template
        )

    async def patch(
        self,
        path: str,
        *,
        cast_to: type[T],
        body: Any = None,
        params: Mapping[str, str] | None = None,
        template: str | None = None,
    ) -> RawResponse[T]:
        """:meth:`RequestVerbs.patch`, raw."""
        return await self.request(
            "PATCH", path, cast_to=cast_to, body=body, params=params, template=template
        )

    async def delete(
        self,
        path: str,
        *,
        cast_to: type[T],
        params: Mapping[str, str] | None = None,
        template: str | None = None,
    ) -> RawResponse[T]:
        """:meth:`RequestVerbs.delete`, raw."""
        return await self.request("DELETE", path, cast_to=cast_to, params=params, template=template)
