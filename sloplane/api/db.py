"""The API's own table: access tokens (stored as hashes; see :mod:`sloplane.api.auth`).

The database itself (engine, migrations) is :mod:`sloplane.database`, shared with the
weekly reports' tables.
"""

from __future__ import annotations

import time

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sloplane.database import Base


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
