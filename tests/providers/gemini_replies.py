"""Gemini replies made of parts beyond text and function calls, as Gemini 3 sends
them, for the fake's ``script_reply()``: shared by the fake's and the provider's tests."""

from __future__ import annotations

#: Thinking with a signature, the answer, and a signature on a final empty text part.
THINKING_REPLY = [
    {"text": "**Planning**\n\nThe user greets me.", "thought": True, "thoughtSignature": "c2lnLXRob3VnaHQ="},
    {"text": "Hello to you, and a good day as well."},
    {"text": "", "thoughtSignature": "c2lnLWVuZA=="},
]
#: Code execution between two text parts, the last one signed.
CODE_REPLY = [
    {"text": "I will compute it with Python."},
    {"executableCode": {"language": "PYTHON", "code": "print(6 * 7)"}},
    {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
    {"text": "The answer is 42, as the code printed.", "thoughtSignature": "c2lnLWNvZGU="},
]
#: A server-side tool (Google Search) call and its response, then the answer.
SERVER_TOOL_REPLY = [
    {"toolCall": {"id": "s1", "toolType": "GOOGLE_SEARCH_WEB", "args": {"queries": ["llmplug"]}},
     "thoughtSignature": "c2lnLXRvb2w="},
    {"toolResponse": {"id": "s1", "toolType": "GOOGLE_SEARCH_WEB", "response": {"result": "a Python client"}}},
    {"text": "llmplug is a Python client."},
]
