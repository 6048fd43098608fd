"""Events on the hub: a device's batch stored exactly once and applied in one unit of work
(server.ingest, server.unit_of_work), the events kept for review, how many are stored."""
from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from app.errors import N_

from . import db
from .errors import HubError
from .ingest import Batch


class EventLog:
    """The events devices send, behind `hub`."""

    def __init__(self, hub):
        self.hub = hub
        # When a device last pushed (monotonic): a room hub's forwarder yields to a live room.
        self.last_ingest = 0.0

    def ingest(self, device: dict, envelopes: list) -> list[dict]:
        """Store a batch of events from `device`; return one result per event, in order."""
        if len(envelopes) > self.hub.settings.max_batch:
            raise HubError(N_("Too many events in one batch: at most {max}."), status=413,
                           code="batch_too_large", max=self.hub.settings.max_batch)

        def work(uow):
            batch = Batch(self.hub.ingest_registry, uow.conn, device, self.hub.consultation)
            results = batch.run(envelopes)
            uow.include(batch)
            return results, batch.wrote_person

        # Another process stored one of these events (or held the lock) meanwhile: the batch
        # runs again; what is already stored then reads as duplicate.
        results, wrote_person = self.hub.units.run(work)
        if wrote_person:
            db.forget_order(self.hub.engine)
        self.last_ingest = time.monotonic()
        return results

    def reviews(self) -> list[dict]:
        with self.hub.engine.connect() as conn:
            rows = conn.execute(select(db.event_reviews)
                                .order_by(db.event_reviews.c.received_at)).all()
        return [{"event_id": r.event_id, "device_id": r.device_id, "kind": r.kind,
                 "reason": r.reason, "received_at": r.received_at,
                 "envelope": json.loads(r.envelope)} for r in rows]

    def event_count(self) -> int:
        with self.hub.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(db.events)).scalar()
