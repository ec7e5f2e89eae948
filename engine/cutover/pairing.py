"""Who drives a session: acquire, keep, lose and hand over the driver lease.

One object per attached process.  The driver heartbeats; a watcher checks the
lease on the same tick and may take over once it has expired.  Front ends ask
``tick()`` periodically and render the role it returns.
"""

from __future__ import annotations

from engine.session import SessionStore, new_holder_id


class Pairing:
    def __init__(self, session: SessionStore, ttl_s: float = 15.0, holder: str | None = None):
        self.session = session
        self.ttl_s = ttl_s
        self.holder = holder or new_holder_id()
        self.driving = False

    @property
    def heartbeat_every_s(self) -> float:
        return max(0.2, self.ttl_s / 3)

    def try_drive(self, force: bool = False) -> bool:
        """Take the driver's seat if it is free (or expired); ``force`` takes it regardless."""
        self.driving = self.session.acquire_lease(self.holder, self.ttl_s, force=force)
        return self.driving

    def driver_operator(self) -> str | None:
        lease = self.session.lease()
        if lease is None or lease.expired():
            return None
        return lease.operator

    def tick(self, want_drive: bool = True) -> tuple[str, str | None]:
        """Heartbeat if driving; returns (role, driver's login name or None)."""
        if self.driving:
            if not self.session.heartbeat(self.holder):
                self.driving = False
        return ("driving" if self.driving else "watching"), self.driver_operator()

    def release(self) -> None:
        if self.driving:
            self.session.release_lease(self.holder)
            self.driving = False
