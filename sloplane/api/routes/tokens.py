"""``/tokens``: create, list and revoke API tokens (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import Response

from sloplane.api.errors import NOT_FOUND, PROBLEM, READ_ERRORS
from sloplane.api.schemas import TokenCreate, TokenCreated, TokenInfo
from sloplane.api.state import V1, Admin, StateDep

router = APIRouter(prefix=V1, tags=["tokens"], dependencies=[Admin])


@router.get("/tokens", response_model=list[TokenInfo], responses=READ_ERRORS)
def list_tokens(st: StateDep) -> list[TokenInfo]:
    return st.tokens.list()


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=201,
    responses={**READ_ERRORS, 409: PROBLEM},
)
def create_token(st: StateDep, body: TokenCreate) -> TokenCreated:
    """Create a token; the plain token is in this response only (the database keeps its hash)."""
    try:
        return st.tokens.create(body.name, list(body.scopes))
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None


@router.delete("/tokens/{token_id}", status_code=204, responses={**READ_ERRORS, **NOT_FOUND})
def delete_token(st: StateDep, token_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    if not st.tokens.delete(token_id):
        raise HTTPException(404, f"no token with id {token_id}")
    return Response(status_code=204)
