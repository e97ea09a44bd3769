"""Conversation state on top of core dispatch: :class:`ChatSession` (Chat
Completions, history kept locally) and :class:`ResponsesChatSession`
(Responses API, history kept by the server). Importing this package registers
both in ``Client.session_classes``, which ``client.new_chat_session()`` and
``client.new_responses_chat_session()`` use.
"""

from __future__ import annotations

from llmplug.core.client import Client

from .base import InvalidMessageError, Session
from .chat import ChatSession, tool_declaration
from .responses import ResponsesChatSession

Client.session_classes["chat"] = ChatSession
Client.session_classes["responses"] = ResponsesChatSession

__all__ = ["ChatSession", "InvalidMessageError", "ResponsesChatSession", "Session", "tool_declaration"]
