"""Which waiting webhooks the worker routes next: each shop in turn, so one shop's burst holds no other.

Routed strictly in arrival order, a flash sale of 20,000 webhooks in one shop (or Shopify resending a
backlog) made every other shop's orders wait behind all of it. `FairInbox` keeps, in memory, the ids of
the waiting receipts shop by shop and hands out batches that take from every waiting shop in turn:
with one shop waiting a batch is all its own (a burst drains at full speed), with two each gets half,
with a hundred each gets one. Within a shop the oldest go first, as before, which keeps the order the
routing needs (an order after the checkout it replaces).

The waiting ids are learnt from the inbox's own index (`ix_webhook_receipts_inbox`: waiting bodies by id):
each look reads the ids and shops of the receipts stored since the last one, and now and then all of
them again (receipts another worker routed). On PostgreSQL two web processes commit receipts in either
order, so a receipt may appear after ones with higher ids: each id skipped by a look is asked for again
by the next ones, for GAP_PATIENCE seconds (ids are skipped for good too: a duplicate's INSERT uses one).
Ids only: 100,000 waiting webhooks cost a few megabytes, and no body is read until its batch.
"""

from __future__ import annotations

import time
from collections import deque

from sqlalchemy import or_, select

from app.database import reading
from app.models import WebhookReceipt, db

SCAN_CHUNK = 10_000  # ids read per statement while learning what waits
RESCAN_EVERY = 0.5  # seconds between full looks at what waits, plus RESCAN_PER_ID for each waiting id
RESCAN_PER_ID = 1 / 20_000  # a full look at 100,000 waiting ids costs ~0.1 s: at most every ~5.5 s
SHARED_BATCH = 10  # receipts per batch while more than one shop waits
GAP_PATIENCE = 2.0  # seconds an id skipped by a look is asked for again
MAX_GAPS = 500  # ids asked for again at most, the newest
MAX_GAP_SPAN = 50_000  # ids between two looks beyond which skipped ones are left to the next full look


class FairInbox:
    """The waiting receipts' ids, by shop, and the order in which shops take their turn."""

    def __init__(self) -> None:
        self.waiting: dict[str, deque[int]] = {}
        self.turn: deque[str] = deque()  # shops with ids waiting, the next to be served first
        self.high_water = 0  # the largest id seen
        self.scanned_at = float("-inf")
        self.gaps: dict[int, float] = {}  # id skipped by a look → when it was first missed

    def __len__(self) -> int:
        return sum(len(ids) for ids in self.waiting.values())

    def next_ids(self, limit: int) -> list[int]:
        """Up to `limit` waiting receipt ids: an equal share from each waiting shop, oldest first in each.

        While several shops wait, batches are smaller (SHARED_BATCH): a batch is routed in one transaction,
        and a receipt costs far more than a commit, so a short batch lets a shop that just got an order
        wait for a few receipts of the burst, not for fifty.
        """
        self._learn()
        return self._take(min(limit, SHARED_BATCH) if len(self.turn) > 1 else limit)

    # -- learning what waits ----------------------------------------------------------------------------
    def _learn(self) -> None:
        count = len(self)
        full = count == 0 or time.monotonic() - self.scanned_at >= RESCAN_EVERY + count * RESCAN_PER_ID
        if full:
            self.scanned_at = time.monotonic()
            self.gaps = {}
            found = self._read_after(0)
            previous = list(self.turn)
            self.waiting = {}
            for shop, ids in found:
                self.waiting.setdefault(shop, deque()).extend(ids)
            # Shops keep their place in the rotation; newly seen ones queue at its end.
            served = set(previous)
            self.turn = deque(shop for shop in previous if shop in self.waiting)
            self.turn.extend(shop for shop in self.waiting if shop not in served)
            return
        before = self.high_water
        mono = time.monotonic()
        self.gaps = {gap: since for gap, since in self.gaps.items() if mono - since < GAP_PATIENCE}
        seen: set[int] = set()
        for shop, ids in self._read_after(before, also=sorted(self.gaps)[-MAX_GAPS:]):
            seen.update(ids)
            queue = self.waiting.get(shop)
            if queue is None:
                queue = self.waiting[shop] = deque()
                self.turn.append(shop)
            late = queue and ids[0] < queue[-1]
            queue.extend(ids)
            if late:  # a receipt committed after newer ones of its shop: oldest first all the same
                self.waiting[shop] = deque(sorted(queue))
        for gap in seen.intersection(self.gaps):
            del self.gaps[gap]
        if self.high_water - before <= MAX_GAP_SPAN:  # a larger jump: the next full look finds the rest
            for skipped in range(before + 1, self.high_water):
                if skipped not in seen:
                    self.gaps.setdefault(skipped, mono)

    def _read_after(self, after: int, also: list[int] | None = None) -> list[tuple[str, list[int]]]:
        """The waiting ids above `after` (and those of `also`), by shop in order of each shop's oldest."""
        by_shop: dict[str, list[int]] = {}
        while True:
            which = WebhookReceipt.id > after
            if also:
                which, also = or_(which, WebhookReceipt.id.in_(also)), None
            with reading():
                rows = db.session.execute(
                    select(WebhookReceipt.id, WebhookReceipt.shop_domain)
                    .where(WebhookReceipt.body.isnot(None), which)
                    .order_by(WebhookReceipt.id).limit(SCAN_CHUNK)
                ).all()
            for row_id, shop in rows:
                by_shop.setdefault(shop, []).append(row_id)
            if rows:
                after = rows[-1][0]
                self.high_water = max(self.high_water, after)
            if len(rows) < SCAN_CHUNK:
                return list(by_shop.items())

    # -- handing out batches -------------------------------------------------------------------------------
    def _take(self, limit: int) -> list[int]:
        batch: list[int] = []
        share = max(1, limit // max(1, len(self.turn)))
        for _ in range(2):  # a second round fills what shops with fewer than their share left
            for _ in range(len(self.turn)):
                if len(batch) >= limit:
                    return batch
                shop = self.turn[0]
                self.turn.rotate(-1)  # served: to the back of the line
                queue = self.waiting[shop]
                for _ in range(min(share, limit - len(batch), len(queue))):
                    batch.append(queue.popleft())
                if not queue:
                    del self.waiting[shop]
                    self.turn.remove(shop)
            share = limit
        return batch
