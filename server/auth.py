"""API key check: `Authorization: Bearer KEY` header or `?api_key=KEY` query parameter."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from starlette.datastructures import Headers, QueryParams

from .settings import Settings
from .state import get_settings


def presented_key(headers: Headers, query: QueryParams) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return headers.get("x-api-key") or query.get("api_key")


def is_authorized(settings: Settings, headers: Headers, query: QueryParams) -> bool:
    if not settings.api_key:
        return True
    key = presented_key(headers, query)
    return key is not None and hmac.compare_digest(key.encode(), settings.api_key.encode())


def require_api_key(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> None:
    """HTTP dependency: 401 before any work when the key is missing or wrong."""
    if not is_authorized(settings, request.headers, request.query_params):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key (send `Authorization: Bearer KEY`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
