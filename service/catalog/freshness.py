"""How a worker's copy of the site catalogue keeps up: change notifications and a bounded
wait for a change that is loading.

The store notifies every worker of a write (Redis pub/sub, `SiteStore.listen`) in a thread
of its own; the notification wakes the worker's reloader at once. `Notices` counts the
notifications received and those a finished reload took in: while the first is ahead, a
request waits (at most `CATCH_UP_SECONDS`, on this process's own condition, never on
Redis) so that it reads the write it was told of, not the copy before it. A notification
that has reached the process but not yet the listener thread (which waits for the
interpreter lock) counts too (`SiteStore.unread`, a look at the local socket buffer).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Protocol

from .site import SiteStore

__all__ = ["CATCH_UP_SECONDS", "POLL_SECONDS", "Notices", "listen", "poll"]

log = logging.getLogger(__name__)

#: Every worker sees a write within this plus one reload when no notification reaches it.
POLL_SECONDS = 0.5
#: A request waits this long at most for a change it was notified of to load.
CATCH_UP_SECONDS = 0.5


class Notices:
    """The change notifications of one process, and how many a reload has taken in."""

    def __init__(self, unread: Callable[[], bool]) -> None:
        self._unread = unread
        #: Set by a notification: the reloader polls now instead of at its next round.
        self.wake = threading.Event()
        self._changes = threading.Condition()  # guards the two counts
        self._notified = 0
        self._applied = 0

    def forked(self) -> None:
        """In a new child: a thread of the parent may have held the condition's lock."""
        self._changes = threading.Condition()

    def caught_up(self) -> bool:
        """Whether every change notified so far has been loaded."""
        return self._applied >= self._notified and not self._unread()

    def wait(self) -> None:
        """Wait (boundedly) until every change notified so far has been loaded."""
        if not self.caught_up():
            with self._changes:
                self._changes.wait_for(self.caught_up, CATCH_UP_SECONDS)

    def notify(self) -> None:
        """The store says it changed (the listener thread): poll at once."""
        with self._changes:
            self._notified += 1
            self._changes.notify_all()
        self.wake.set()

    def reload(self, refresh: Callable[[], bool]) -> bool:
        """One round of the reloader: `refresh`, then count the notifications it took in."""
        self.wake.clear()  # a notification from now on polls again
        with self._changes:
            notified = self._notified
        fresh = refresh()
        if fresh:
            with self._changes:
                self._applied = max(self._applied, notified)
                self._changes.notify_all()
        return fresh


class Refreshed(Protocol):
    """What the loops keep fresh: the site catalogue of one process."""

    store: SiteStore
    notices: Notices

    def refresh(self) -> bool:
        """Reload what changed; False when it should be asked again at once."""
        ...


def poll(ref: weakref.ref[Refreshed]) -> None:
    """The reloader's loop: refresh every POLL_SECONDS, or at once when notified, until the
    catalogue is gone."""
    # Only a weak reference between rounds: an app that is dropped (tests build many)
    # takes its threads with it.
    while (site := ref()) is not None:
        notices = site.notices
        try:
            fresh = notices.reload(site.refresh)
        except Exception:  # a thread's last resort: a bug must not end freshness for good
            log.exception("site catalogue: reload failed; serving the last copy")
            fresh = True
        del site
        if fresh:
            notices.wake.wait(POLL_SECONDS)


def listen(ref: weakref.ref[Refreshed]) -> None:
    """The listener's loop: the store's notifications wake the reloader."""
    site = ref()
    if site is None:
        return
    store = site.store
    del site

    def changed() -> None:
        if (site := ref()) is not None:
            site.notices.notify()

    try:
        store.listen(changed, lambda: ref() is not None)
    except Exception:  # the poller still runs: freshness within POLL_SECONDS
        log.exception("site catalogue: change notifications stopped; polling only")
