"""ProlificClient: the transport of :class:`BaseClient` plus the API's resources."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING

from ._base_client import DEFAULT_BASE_URL, BaseClient

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Sequence

    from .models.batches import Batch, TaskDetails
    from .models.datasets import DatasetSchema
    from .models.layout import Page
    from .models.provision import ProvisionRequest, ProvisionResult
    from .resources.batches import BatchesResource
    from .resources.datasets import DatasetsResource

__all__ = ["DEFAULT_BASE_URL", "ProlificClient"]


class ProlificClient(BaseClient):
    """An async client for Prolific's AI Task Builder API.

    One client holds one ``aiohttp.ClientSession`` and is safe to share between any
    number of concurrent tasks. Use it as an async context manager, or call
    :meth:`aclose` when done::

        async with ProlificClient() as client:
            batch = await client.batches.get(batch_id)

    Args:
        token: the API token; defaults to the ``PROLIFIC_TOKEN`` environment variable.
        base_url: the API's root; defaults to ``PROLIFIC_URL``, then
            ``https://api.prolific.com``.
        timeout: seconds allowed for each attempt to connect and for each read.
            ``retry.timeout`` bounds the whole call, retries included.
        retry: how requests are retried; see :class:`RetryPolicy`.
        max_connections: the connection limit of the connector this client creates, and
            the number of requests this client keeps in flight at once (more wait
            their turn, outside the timeouts).
        session: an ``aiohttp.ClientSession`` you own. The client then never closes it,
            and it keeps its own connector limits (``max_connections`` still caps this
            client's requests in flight). The retry policy applies to it too, in front
            of the session's own middlewares.
        ssl_context: the TLS context for the session this client creates (for
            example one that trusts a test CA); the one way to change trust.
            Certificate verification itself cannot be switched off. Not allowed
            together with ``session=``: a session you pass keeps its own TLS settings
            (verification included), and so do the plain sessions of its storage
            transfers (the system's trust). Without ``ssl_context`` the system's trust
            applies, which OpenSSL's ``SSL_CERT_FILE``/``SSL_CERT_DIR`` can point elsewhere.
        allow_insecure_http: accept a plain ``http://`` base URL on another machine (the
            token then travels in the clear); also ``PROLIFIC_ALLOW_INSECURE_HTTP=1``.
            Loopback (the emulator) needs neither.
        transfer_deadline: seconds one presigned transfer (a dataset upload, an export
            download) may take in all, retries included; 900 (15 minutes) by default.
            ``upload`` and ``download_export`` take a ``transfer_deadline=`` of their own.
        default_headers: headers sent with every API request, under the client's own
            (``Accept``, ``User-Agent`` and ``Content-Type`` stay ours). They cannot set
            ``Authorization``: the token is ``token=``.
        trace_configs: ``aiohttp.TraceConfig`` objects added after the client's own to
            the session it creates. aiohttp fires ``on_request_start``/``end`` once per
            call, not per retry: the per-attempt signal is the DEBUG line of the
            ``prolific_async`` logger. Not allowed together with ``session=``.
        proxy: an ``http://`` or ``https://`` proxy URL (credentials in it are sent as
            proxy authorization) for the API and storage transfers; overrides the
            environment. Not allowed together with ``session=``.
        trust_env: read the proxy from ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``
            (honouring ``NO_PROXY``) when ``proxy`` is not given; a loopback base URL
            (the emulator) is always reached directly. ``~/.netrc`` is never read.
        max_response_bytes: the largest body, decompressed, read for one object
            (default 8 MiB); a larger one is a :class:`ResponseTooLargeError`.
        max_listing_bytes: the same for a listing, one unpaged body holding a whole
            workspace (default 256 MiB: 100,000 batches of about 2.5 KB).

    Logging goes to the ``prolific_async`` logger (no handler installed);
    ``PROLIFIC_LOG=info|debug`` or ``PROLIFIC_DEBUG=1`` sends it to stderr. The token
    never appears in a log line.

    Raises:
        MissingTokenError: no token was given and ``PROLIFIC_TOKEN`` is unset.
        ValueError: ``base_url`` is invalid or plain http off this machine, ``timeout``,
            ``transfer_deadline`` or ``max_connections`` is invalid, or
            ``ssl_context`` does not verify certificates or comes with ``session=``,
            ``default_headers`` sets ``Authorization``, ``proxy`` is not an http(s) URL,
            or ``trace_configs``/``proxy`` come with ``session=``.
    """

    @cached_property
    def batches(self) -> BatchesResource:
        """Create, get, update and duplicate batches."""
        from .resources.batches import BatchesResource

        return BatchesResource(self)

    @cached_property
    def datasets(self) -> DatasetsResource:
        """Create datasets, upload files to them and follow their processing."""
        from .resources.datasets import DatasetsResource

        return DatasetsResource(self)

    # -- the whole pipeline ------------------------------------------------------------

    async def provision_batch(
        self,
        *,
        name: str,
        workspace_id: str,
        task_details: TaskDetails,
        dataset: str | os.PathLike[str] | bytes,
        filename: str | None = None,
        schema: DatasetSchema | None = None,
        tasks_per_group: int | None = None,
        dataset_name: str | None = None,
        batch_items: Sequence[Page] | None = None,
        auto_sync_enabled: bool | None = None,
        timeout: float = 900.0,  # noqa: ASYNC109 (each wait's deadline, not a cancel scope)
        transfer_deadline: float | None = None,
    ) -> Batch:
        """Make a READY batch from a data file: dataset, upload, batch, setup, wait.

        Args:
            name: the batch's name (and the dataset's, unless ``dataset_name``).
            workspace_id: the workspace both go into.
            task_details: what participants are shown.
            dataset: a path to a ``.csv``/``.zip``/``.jsonl`` file, or its bytes.
            filename: the name to upload as (required with bytes).
            schema: a V4 dataset schema; without one the dataset is V3.
            tasks_per_group: tasks per participant (server default 1).
            dataset_name: the dataset's name, if not ``name``.
            batch_items: a configurable layout for the batch.
            auto_sync_enabled: turn datapoints appended later into tasks automatically.
            timeout: seconds each wait (upload processing, setup) may take.
            transfer_deadline: seconds sending the file may take, retries included
                (``None``: the client's ``transfer_deadline``).

        Returns:
            The READY batch.

        Raises:
            ProvisionError: a step failed; its ``step``, ``dataset`` and ``batch`` say
                how far it got and what exists, and its ``__cause__`` is the step's error.
        """
        from ._provision import provision_batch
        from .models.provision import ProvisionRequest

        request = ProvisionRequest(
            name=name,
            workspace_id=workspace_id,
            task_details=task_details,
            dataset=dataset,
            filename=filename,
            schema=schema,
            tasks_per_group=tasks_per_group,
            dataset_name=dataset_name,
            batch_items=batch_items,
            auto_sync_enabled=auto_sync_enabled,
            timeout=timeout,
            transfer_deadline=transfer_deadline,
        )
        return await provision_batch(self, request)

    def provision_many(
        self,
        requests: Iterable[ProvisionRequest] | AsyncIterable[ProvisionRequest],
        *,
        concurrency: int = 8,
    ) -> AsyncGenerator[ProvisionResult, None]:
        """Run :meth:`provision_batch` for many requests at once; yield results as they end.

        Batches are created through ``batches.create_many``, so each exists exactly once
        whatever the network does; datasets are created and filled, and batches set up
        and awaited, ``concurrency`` at a time. Requests are read lazily.
        """
        from ._provision import provision_many

        return provision_many(self, requests, concurrency=concurrency)
