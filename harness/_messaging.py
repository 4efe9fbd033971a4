"""RabbitMQ in tests: ``listen`` collects what the code under test publishes, ``publish`` feeds
consumers. Each opens its own channel on the harness's connection, so a failed declaration
cannot close the session-wide channel that seeds and other tests use.
"""

from __future__ import annotations

import json
import os
import reprlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from ._accessors import rabbitmq_connection
from ._cleanup import merge_cleanup_errors
from ._exceptions import MessageNotReceivedError, UnexpectedMessageError
from ._session import current

if TYPE_CHECKING:
    import aio_pika.abc

__all__ = ["Inbox", "Message", "default_exchange", "listen", "publish"]

_CLEANUP_TIMEOUT = 10.0
_FLUSH_TIMEOUT = 30.0
"""Seconds ``expect_none`` waits for its marker to come back through the broker."""
_MARKER_HEADER = "x-harness-inbox-marker"
_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80


# --------------------------------------------------------------------------------------------
# messages and the inbox
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One message as the listener received it."""

    routing_key: str
    """The routing key it was published with."""
    body: Any
    """Decoded JSON when the body is JSON; else text when it is UTF-8; else the raw bytes."""
    headers: Mapping[str, Any]
    """The AMQP headers (``{}`` when there were none)."""
    exchange: str
    """The exchange it was published to."""
    content_type: str | None = None
    """The ``content_type`` property, when the publisher set one."""
    persistent: bool = False
    """Whether it was published with ``delivery_mode=2`` (survives a broker restart)."""
    message_id: str | None = None
    """The ``message_id`` property, when the publisher set one."""
    correlation_id: str | None = None
    """The ``correlation_id`` property, when the publisher set one."""
    raw: bytes = field(default=b"", repr=False)
    """The body exactly as received."""

    def __str__(self) -> str:
        headers = f" headers={dict(self.headers)!r}" if self.headers else ""
        return f"[{self.routing_key}] {_short.repr(self.body)}{headers}"


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw


class Inbox:
    """The messages one :func:`listen` block has received, in arrival order.

    :attr:`received` keeps every message; :meth:`get` hands each one out once.
    """

    def __init__(self, exchange: str, routing_keys: tuple[str, ...]) -> None:
        self.exchange = exchange
        self.routing_keys = routing_keys
        self.received: list[Message] = []
        self._taken: set[int] = set()
        self._wakeup = anyio.Event()
        self._send_marker: Callable[[str], Awaitable[None]] | None = None
        self._markers: dict[str, anyio.Event] = {}

    def __len__(self) -> int:
        return len(self.received)

    def __repr__(self) -> str:
        return f"<Inbox {self._describe()}: {len(self.received)} received>"

    async def get(
        self, *, timeout: float = 5.0, where: Callable[[Message], bool] | None = None
    ) -> Message:
        """Return the next message not returned yet, waiting for it if needed.

        :param timeout: seconds to wait; then the test fails listing what *was* received,
            which usually shows the mistake (another routing key, a different body).
        :param where: take the next message this predicate accepts, skipping (not dropping)
            the others: ``where=lambda m: m.body["courier_id"] == cid``.
        :raises MessageNotReceivedError: an ``AssertionError``, so the test fails (not errors).
        """
        message = await self._wait(where, timeout)
        if message is None:
            raise MessageNotReceivedError(
                f"no {'matching ' if where else ''}message arrived on {self._describe()} "
                f"within {timeout:g} s. {self._summary()}"
            )
        return message

    async def expect_none(
        self, *, within: float = 0.5, where: Callable[[Message], bool] | None = None
    ) -> None:
        """Assert that no (matching) message has arrived, nor arrives within *within* seconds.

        It first sends a marker message through the broker to this listener's own queue and
        waits for it: a message published (and confirmed by the broker, as aio-pika's channels
        do by default) before ``expect_none`` was called is queued ahead of the marker, so it is
        seen however slowly the machine runs. *within* then covers what the code under test
        publishes later, from a background task.

        :param within: how long to watch after the marker; ``0`` checks only what was
            published before the call. A message published later than this goes unnoticed.
        :param where: only messages this predicate accepts count.
        :raises UnexpectedMessageError: listing the message(s) that did arrive.
        :raises TimeoutError: when the marker does not come back (a broker in trouble).
        """
        await self._flush()
        await anyio.sleep(within)
        unexpected = [m for i, m in self._unread() if where is None or where(m)]
        if unexpected:
            listed = "\n".join(f"  - {message}" for message in unexpected)
            raise UnexpectedMessageError(
                f"expected no {'matching ' if where else ''}message on {self._describe()} "
                f"within {within:g} s, but {len(unexpected)} arrived:\n{listed}"
            )

    # -- internals --------------------------------------------------------------------------

    def _deliver(self, message: Message) -> None:
        self.received.append(message)
        self._wakeup.set()

    async def _flush(self) -> None:
        """Send a marker to this inbox's queue and wait until it comes back: whatever the
        broker had queued for the inbox before it has then been delivered."""
        if self._send_marker is None:
            return
        token = uuid.uuid4().hex
        arrived = self._markers[token] = anyio.Event()
        try:
            with anyio.move_on_after(_FLUSH_TIMEOUT):
                await self._send_marker(token)
                await arrived.wait()
        finally:
            del self._markers[token]
        if not arrived.is_set():
            raise TimeoutError(
                f"expect_none() could not make sure the earlier messages on {self._describe()} "
                f"had arrived: its marker message, sent to the listener's own queue, did not "
                f"come back within {_FLUSH_TIMEOUT:g} s. The broker is overloaded or the "
                "connection broke: see RabbitMQ's log."
            )

    def _marker_arrived(self, token: str) -> None:
        event = self._markers.get(token)
        if event is not None:
            event.set()

    async def _wait(
        self, where: Callable[[Message], bool] | None, timeout: float
    ) -> Message | None:
        with anyio.move_on_after(timeout):
            while (found := self._take(where)) is None:
                self._wakeup = anyio.Event()
                await self._wakeup.wait()
            return found
        return self._take(where)

    def _unread(self) -> list[tuple[int, Message]]:
        return [(i, m) for i, m in enumerate(self.received) if i not in self._taken]

    def _take(self, where: Callable[[Message], bool] | None) -> Message | None:
        for index, message in self._unread():
            if where is None or where(message):
                self._taken.add(index)
                return message
        return None

    def _describe(self) -> str:
        keys = ", ".join(repr(key) for key in self.routing_keys)
        return f"exchange {self.exchange!r} (routing key {keys})"

    def _summary(self) -> str:
        if not self.received:
            return "Nothing was received at all: check the exchange and routing key."
        lines = [
            f"  - {message}{'  (already returned by get())' if i in self._taken else ''}"
            for i, message in enumerate(self.received)
        ]
        return f"Received instead ({len(lines)}):\n" + "\n".join(lines)


# --------------------------------------------------------------------------------------------
# listen / publish
# --------------------------------------------------------------------------------------------


def default_exchange() -> str:
    """The exchange ``listen``, ``publish`` and ``rabbitmq_queue`` use when given none: the
    ``harness_exchange`` option, an exchange name or ``$VARIABLE`` (read when called, so
    ``override_env`` changes it for a block).

    :raises LookupError: when it is not configured, or names an unset variable.
    """
    session = current()
    configured = session.config.exchange if session is not None else ""
    if not configured:
        raise LookupError(
            "no exchange given and harness_exchange is not set: pass exchange=..., or set "
            "harness_exchange in [tool.pytest.ini_options] to an exchange name, or to "
            "$VARIABLE to read it from the environment."
        )
    if not configured.startswith("$"):
        return configured
    variable = configured[1:].strip("{}")
    name = os.environ.get(variable)
    if not name:
        raise LookupError(
            f"no exchange given and {variable} (which harness_exchange names) is not set. Pass "
            f"exchange=..., or set {variable} in the test env file (.env.test)."
        )
    return name


def _exchange_name(exchange: str | None) -> str:
    return exchange if exchange is not None else default_exchange()


@asynccontextmanager
async def _private_channel() -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    channel = await rabbitmq_connection().channel(on_return_raises=True)
    try:
        yield channel
    finally:
        if not channel.is_closed:
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_TIMEOUT):
                await channel.close()


async def _declare_exchange(
    channel: aio_pika.abc.AbstractChannel, name: str
) -> aio_pika.abc.AbstractExchange:
    import aio_pika

    if name == "":
        return channel.default_exchange
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


@asynccontextmanager
async def listen(
    routing_key: str | Sequence[str] = "#", *, exchange: str | None = None
) -> AsyncIterator[Inbox]:
    """Collect the messages published to *exchange* with *routing_key* during the block.

    The temporary queue is declared and bound *before* the block runs, so nothing the action
    publishes is missed; it is exclusive to the harness's connection and deleted afterwards.

    .. code-block:: python

        async with listen("courier.location") as inbox:
            response = await client.post("/courier/location", json=location, headers=auth)
        message = await inbox.get(timeout=5)
        assert message.body["courier_id"] == courier_id

    :param routing_key: a topic binding key (``*`` one word, ``#`` any number) or several.
    :param exchange: the topic exchange to listen on; defaults to :func:`default_exchange`
        (the ``harness_exchange`` option). It is declared (topic, durable) if missing.
    """
    import aio_pika

    keys = (routing_key,) if isinstance(routing_key, str) else tuple(routing_key)
    name = _exchange_name(exchange)
    if name == "":
        raise ValueError("listen() needs a named exchange: the default exchange has no bindings.")
    inbox = Inbox(name, keys)
    async with _private_channel() as channel:
        target = await _declare_exchange(channel, name)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in keys:
            await queue.bind(target, routing_key=key)
        await queue.consume(_receiver(inbox), no_ack=True)

        async def send_marker(token: str) -> None:
            marker = aio_pika.Message(b"", headers={_MARKER_HEADER: token})
            await channel.default_exchange.publish(marker, routing_key=queue.name)

        inbox._send_marker = send_marker
        try:
            yield inbox
        except BaseException as exc:
            errors = await _delete_queue(queue)
            replacement = merge_cleanup_errors(exc, errors, f"listen({keys!r})")
            if replacement is not None:
                raise replacement  # noqa: B904 (chained to exc implicitly)
            raise
        errors = await _delete_queue(queue)
        if errors:
            raise errors[0]


_PERSISTENT = 2
"""AMQP ``delivery_mode`` of a persistent message (aio-pika is imported lazily here)."""


def _receiver(inbox: Inbox) -> Callable[[aio_pika.abc.AbstractIncomingMessage], Any]:
    async def receive(incoming: aio_pika.abc.AbstractIncomingMessage) -> None:
        marker = (incoming.headers or {}).get(_MARKER_HEADER)
        if marker is not None and incoming.exchange == "":
            inbox._marker_arrived(str(marker))
            return
        inbox._deliver(
            Message(
                routing_key=incoming.routing_key or "",
                body=_decode(incoming.body),
                headers=dict(incoming.headers or {}),
                exchange=incoming.exchange or "",
                content_type=incoming.content_type,
                persistent=incoming.delivery_mode == _PERSISTENT,
                message_id=incoming.message_id,
                correlation_id=incoming.correlation_id,
                raw=incoming.body,
            )
        )

    return receive


async def _delete_queue(queue: aio_pika.abc.AbstractQueue) -> list[BaseException]:
    with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_TIMEOUT):
        try:
            await queue.delete(if_unused=False, if_empty=False)
        except Exception as exc:
            return [exc]
    return []


async def publish(
    routing_key: str,
    body: Any,
    *,
    exchange: str | None = None,
    headers: Mapping[str, Any] | None = None,
    content_type: str | None = None,
    mandatory: bool = True,
    persistent: bool = False,
    message_id: str | None = None,
) -> None:
    """Publish one message, as a producer service would, for consumer-side tests.

    :param routing_key: the routing key (the queue name when *exchange* is ``""``).
    :param body: ``bytes`` are sent as they are, ``str`` as UTF-8 text, anything else as JSON
        (``UUID``, ``datetime``... become strings).
    :param exchange: defaults to :func:`default_exchange` (the ``harness_exchange`` option;
        declared topic, durable, if missing); ``""`` is the default exchange (straight to a
        queue).
    :param headers: AMQP headers for the message.
    :param content_type: overrides the content type derived from *body*.
    :param mandatory: fail when no queue is bound to receive the message, instead of RabbitMQ
        dropping it silently (the usual cause: the consumer has not declared its queue yet).
    :param persistent: publish with ``delivery_mode=2``, as producers of durable events do.
    :param message_id: the ``message_id`` property (for consumers that deduplicate on it).
    :raises aio_pika.exceptions.DeliveryError: when *mandatory* and nothing could route it.
    """
    import aio_pika

    raw, derived_type = _encode(body)
    message = aio_pika.Message(
        raw,
        headers=dict(headers or {}),
        content_type=content_type or derived_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT if persistent else None,
        message_id=message_id,
    )
    async with _private_channel() as channel:
        target = await _declare_exchange(channel, _exchange_name(exchange))
        await target.publish(message, routing_key=routing_key, mandatory=mandatory)


def _encode(body: Any) -> tuple[bytes, str]:
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain"
    return json.dumps(body, default=str).encode(), "application/json"
