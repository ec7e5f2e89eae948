"""Who drives a session: acquire, keep, lose and hand over the driver lease.

One object per attached process.  The driver heartbeats; a watcher checks the
lease on the same tick and may take over once it has expired.  Front ends ask
``tick()`` periodically and render the role it returns.
"""

from __future__ import annotations

from engine.session import SessionStore, new_holder_id


class Pairing:
    def __init__(self, session: SessionStore, ttl_s: float = 15.0, holder: str | None = None,
                 kind: str | None = None, watch_only: bool = False):
        self.session = session
        self.ttl_s = ttl_s
        self.holder = holder or new_holder_id()
        self.driving = False
        self.kind = kind
        """'tui', 'tail', ...: listed among the session's attached clients; None stays unlisted."""
        self.watch_only = watch_only
        """Attached with --watch: never drives, is never offered the seat, and its store handle
        refuses every change (enforced in the store: :meth:`SessionStore.become_watch_only`)."""
        if kind:
            session.attach_client(self.holder, kind, watch_only=watch_only)
        if watch_only:
            session.become_watch_only()

    @property
    def heartbeat_every_s(self) -> float:
        return max(0.2, self.ttl_s / 3)

    def try_drive(self, force: bool = False) -> bool:
        """Take the driver's seat if it is free (or expired); ``force`` takes it regardless."""
        if self.watch_only:
            return False
        self.driving = self.session.acquire_lease(self.holder, self.ttl_s, force=force)
        return self.driving

    def driver_operator(self) -> str | None:
        lease = self.session.lease()
        if lease is None or not lease.live():
            return None
        return lease.operator

    def tick(self, want_drive: bool = True) -> tuple[str, str | None]:
        """Heartbeat if driving; returns (role, driver's login name or None).

        A watcher becomes the driver here when the seat was handed to it (its
        request accepted, or the driver chose it).
        """
        if self.driving:
            if not self.session.heartbeat(self.holder):
                self.driving = False
        else:
            lease = self.session.lease()
            if lease is not None and lease.holder == self.holder and not lease.expired() and not self.watch_only:
                self.driving = self.session.heartbeat(self.holder)
        if self.kind:
            self.session.attach_client(self.holder, self.kind, watch_only=self.watch_only)
        return ("driving" if self.driving else "watching"), self.driver_operator()

    def detach(self) -> None:
        """Leave: give up the seat if driving, and leave the list of attached clients."""
        self.release()
        if self.kind:
            self.session.detach_client(self.holder)

    def release(self) -> None:
        if self.driving:
            self.session.release_lease(self.holder)
            self.driving = False
