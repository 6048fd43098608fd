"""The hub: the central platform's API that tablets sync with, which a facilitator can also run
on a laptop for one room. FastAPI on uvicorn, storage through SQLAlchemy Core on SQLite (WAL) or
PostgreSQL. Never imports Kivy. The protocol is described in docs/protocol.md."""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
