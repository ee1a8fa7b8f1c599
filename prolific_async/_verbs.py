"""The public request verbs: ``get``/``post``/``patch``/``delete`` over one ``request``.

The escape hatch for endpoints the library does not wrap yet (as the anthropic SDK
offers it): each verb is :meth:`RequestVerbs.request` with its method filled in, so every
call goes through the same retry policy, 429 gate, error mapping and decoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from ._call import CallState

__all__ = ["RequestVerbs"]

T = TypeVar("T")


class RequestVerbs:
    """The verbs; the class they are mixed into provides :meth:`request`."""

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
