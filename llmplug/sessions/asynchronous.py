"""The async sessions: the sync sessions' own methods, run by
:func:`~llmplug.sessions.plans.adrive` on an :class:`~llmplug.AsyncClient`.
Importing this module registers them in ``AsyncClient.session_classes``
(``llmplug.new_async`` does)."""

from __future__ import annotations

from llmplug.core.async_client import AsyncClient, coroutine_method

from .chat import ChatSession
from llmplug.core.plans import adrive
from .responses import ResponsesChatSession

__all__ = ["AsyncChatSession", "AsyncResponsesChatSession"]


class AsyncChatSession(ChatSession):
    """:class:`ChatSession` on an async client: ``send``, ``generate_response``
    and ``run`` are coroutine functions. In ``run`` a tool may be a plain or a
    coroutine function, and the tool calls of one turn run concurrently (a
    plain function on a thread of its own, so it does not block the loop)."""

    _drive = staticmethod(adrive)
    _needs_async = True
    send = coroutine_method(ChatSession.send, "AsyncChatSession")
    generate_response = coroutine_method(ChatSession.generate_response, "AsyncChatSession")
    run = coroutine_method(ChatSession.run, "AsyncChatSession")


class AsyncResponsesChatSession(ResponsesChatSession):
    """:class:`ResponsesChatSession` on an async client: ``send`` and
    ``create_response`` are coroutine functions."""

    _drive = staticmethod(adrive)
    _needs_async = True
    send = coroutine_method(ResponsesChatSession.send, "AsyncResponsesChatSession")
    create_response = coroutine_method(ResponsesChatSession.create_response, "AsyncResponsesChatSession")


AsyncClient.session_classes["chat"] = AsyncChatSession
AsyncClient.session_classes["responses"] = AsyncResponsesChatSession
