"""Following redirects without leaking credentials."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import attrs

from .http import SENSITIVE_HEADERS, Request, Response

__all__ = ["MAX_REDIRECTS", "redirect_request", "REDIRECT_STATUSES"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def redirect_request(request: Request, response: Response) -> Request | None:
    """The request to send after a redirect ``response``, or ``None`` if it is not one.

    301/302/303 turn a POST into a body-less GET (as browsers and httpx do);
    307/308 repeat the method and body. Credential headers are dropped when the
    new URL leaves the original scheme, host or port, and an https -> http
    downgrade is never given them either.
    """
    location = response.headers.get("location")
    if response.status_code not in REDIRECT_STATUSES or not location:
        return None
    url = urljoin(request.url, location)
    method, content = request.method, request.content
    headers = request.headers.copy()
    if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
        method, content = "GET", None
        for name in ("content-type", "content-length"):
            headers.pop(name, None)
    if _origin(url) != _origin(request.url):
        for name in list(headers):
            if name.lower() in SENSITIVE_HEADERS:
                del headers[name]
    return attrs.evolve(request, method=method, url=url, headers=headers, content=content)
