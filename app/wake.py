"""Wake-ups: a worker learns of new work when it is committed, not at its next look.

Two channels. INBOX: a webhook receipt waits to be routed (the acknowledgement's INSERT). OUTBOX: an
event became ready to send (routed, released by its beacon, requeued). A writer announces work with
`notify` inside its transaction, or `send` after a commit it made itself; a worker waits on a
`Listener`.

PostgreSQL: `NOTIFY` in the writer's transaction, so it is delivered at the commit and only if there is
one, and a `LISTEN` on a connection of the worker's own. SQLite: each listening worker owns a FIFO in
`<database file>-wake/`; a writer sends one byte to each after its commit. Both work across processes
(web and workers) and within one.

A wake-up only shortens a wait: workers still look every `WORKER_IDLE_SECONDS`, so a lost one (the
LISTEN connection dropped, a FIFO full, a worker starting) delays work to that look and never loses it.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import select
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.models import db

logger = logging.getLogger(__name__)

INBOX = "pinbridge_inbox"
OUTBOX = "pinbridge_outbox"
CHANNELS = (INBOX, OUTBOX)
_BYTE = {INBOX: b"i", OUTBOX: b"o"}
_CHANNEL_OF = {ord(b"i"): INBOX, ord(b"o"): OUTBOX}
_PENDING = "pinbridge_wake"  # session.info: channels to announce at the commit (SQLite)
RECONNECT_EVERY = 1.0  # seconds between attempts to LISTEN again after the connection was lost


# -- writers ------------------------------------------------------------------------------------------
def notify(channel: str, session: Session | None = None) -> None:
    """Announce `channel` when the session's current transaction commits (nothing if it rolls back)."""
    session = session or db.session()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"NOTIFY {channel}"))
        return
    session.info.setdefault(_PENDING, (connection.engine, set()))[1].add(channel)


def send(engine: Engine, channel: str) -> None:
    """Announce `channel` now, after a commit the caller made (SQLite; PostgreSQL's writers use NOTIFY)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # the block commits the notification
            conn.execute(text(f"NOTIFY {channel}"))
        return
    key = _key(engine)
    for listener in _local.get(key, ()):
        listener.poke(channel)
    folder = _folder(engine)
    if folder is not None:
        _fifos(folder).send(_BYTE[channel])


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        engine, channels = pending
        for channel in channels:
            try:
                send(engine, channel)
            except Exception:  # a wake-up is a hint: the work is committed and found at the next look
                logger.debug("wake-up not sent", exc_info=True)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _folder(engine: Engine) -> Path | None:
    """SQLite's wake-up folder, beside the database file (None for an in-memory database)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}-wake")


class _Fifos:
    """The FIFOs of the workers listening in one folder, as a writer sees them: names and open ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.stamp: int | None = None
        self.ends: dict[str, int] = {}  # FIFO name → our write end
        self.pid = os.getpid()

    def send(self, byte: bytes) -> None:
        with self.lock:
            if self.pid != os.getpid():  # forked: the parent's ends are not ours to keep
                self.ends, self.stamp, self.pid = {}, None, os.getpid()
            self._refresh()
            for name in list(self.ends):
                self._write(name, byte)

    def _refresh(self) -> None:
        try:
            stamp = os.stat(self.folder).st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp == self.stamp:
            return
        self.stamp = stamp
        names = set() if stamp is None else {n for n in os.listdir(self.folder) if not n.startswith(".")}
        for gone in set(self.ends) - names:
            self._close(gone)
        for name in names - set(self.ends):
            try:
                self.ends[name] = os.open(self.folder / name, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no reader: its worker died without removing it
                    _unlink(self.folder / name)

    def _write(self, name: str, byte: bytes) -> None:
        try:
            os.write(self.ends[name], byte)
        except BlockingIOError:
            pass  # full: that worker has wake-ups waiting already
        except OSError:  # EPIPE: the worker is gone
            self._close(name)
            _unlink(self.folder / name)

    def _close(self, name: str) -> None:
        fd = self.ends.pop(name, None)
        if fd is not None:
            os.close(fd)


_fifo_writers: dict[Path, _Fifos] = {}
_fifo_writers_lock = threading.Lock()


def _fifos(folder: Path) -> _Fifos:
    with _fifo_writers_lock:
        found = _fifo_writers.get(folder)
        if found is None:
            found = _fifo_writers[folder] = _Fifos(folder)
        return found


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


# -- workers ------------------------------------------------------------------------------------------
_local: dict[str, list[Listener]] = {}  # listeners of this process, by database


class Listener:
    """A worker's ears: one event per channel, set when a wake-up for it arrives (or `poke` is called).

    `wait` returns as soon as its channel was announced since its last return, or after `timeout`.
    Clear-then-look: the event is cleared as `wait` returns, before the caller looks for work, so a
    wake-up that comes while it works makes the next `wait` return at once.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events = {channel: threading.Event() for channel in CHANNELS}
        self.closing = threading.Event()
        self.listening = threading.Event()  # set once wake-ups from other processes reach it
        self._thread: threading.Thread | None = None
        self._fifo: Path | None = None
        self._fds: tuple[int, int] | None = None
        self._pg: Any = None

    def start(self) -> Listener:
        if self.engine.dialect.name == "postgresql":
            target = self._listen_postgresql
        else:
            folder = _folder(self.engine)
            if folder is None:  # an in-memory database: one process, pokes only
                _local.setdefault(_key(self.engine), []).append(self)
                self.listening.set()
                return self
            self._open_fifo(folder)
            self.listening.set()
            target = self._listen_fifo
        _local.setdefault(_key(self.engine), []).append(self)
        self._thread = threading.Thread(target=target, name="wake", daemon=True)
        self._thread.start()
        return self

    def wait(self, channel: str, timeout: float) -> bool:
        """Wait until `channel` is announced or `timeout` passes; whether it was announced."""
        woken = self.events[channel].wait(timeout)
        self.events[channel].clear()
        return woken

    def poke(self, channel: str | None = None) -> None:
        """Wake whoever waits on `channel` (every channel when None) in this process."""
        for name in CHANNELS if channel is None else (channel,):
            self.events[name].set()

    def close(self) -> None:
        self.closing.set()
        listeners = _local.get(_key(self.engine), [])
        if self in listeners:
            listeners.remove(self)
        if self._fds is not None:
            try:
                os.write(self._fds[1], b"x")
            except OSError:
                pass
        if self._pg is not None:
            try:
                self._pg.cancel_safe()
            except Exception:
                logger.debug("LISTEN connection not cancelled", exc_info=True)
        if self._thread is not None:
            self._thread.join(5)
        if self._fifo is not None:
            _unlink(self._fifo)
        if self._fds is not None:
            for fd in self._fds:
                os.close(fd)
            self._fds = None
        self.poke()

    # SQLite: a FIFO of our own ------------------------------------------------------------------------
    def _open_fifo(self, folder: Path) -> None:
        folder.mkdir(mode=0o700, exist_ok=True)
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        hidden = folder / f".{name}"  # writers skip it until it has a reader, then it is renamed
        os.mkfifo(hidden, 0o600)
        read = os.open(hidden, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        write = os.open(hidden, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # never at end-of-file
        os.rename(hidden, folder / name)
        self._fifo, self._fds = folder / name, (read, write)

    def _listen_fifo(self) -> None:
        assert self._fds is not None
        read = self._fds[0]
        poller = select.poll()
        poller.register(read, select.POLLIN)
        while not self.closing.is_set():
            if not poller.poll(1000):
                continue
            try:
                data = os.read(read, 4096)
            except BlockingIOError:
                continue
            except OSError:
                return
            for byte in set(data):
                channel = _CHANNEL_OF.get(byte)
                if channel is not None:
                    self.events[channel].set()

    # PostgreSQL: LISTEN on a connection of our own ----------------------------------------------------
    def _listen_postgresql(self) -> None:
        while not self.closing.is_set():
            try:
                self._pg = self._connect()
                self.poke()  # anything announced while not listening is looked for now
                self.listening.set()
                while not self.closing.is_set():
                    for note in self._pg.notifies(timeout=1.0):
                        event = self.events.get(note.channel)
                        if event is not None:
                            event.set()
            except Exception:
                self.listening.clear()
                if self.closing.is_set():
                    break
                logger.warning("listening for wake-ups failed; polling until it works again",
                               extra={"action": "wake_listen_failed"}, exc_info=True)
                self.closing.wait(RECONNECT_EVERY)
            finally:
                pg, self._pg = self._pg, None
                if pg is not None:
                    try:
                        pg.close()
                    except Exception:
                        logger.debug("LISTEN connection not closed cleanly", exc_info=True)

    def _connect(self) -> Any:
        proxy = self.engine.raw_connection()  # the engine's connect arguments and listeners
        driver: Any = proxy.driver_connection
        proxy.detach()
        driver.autocommit = True
        for channel in CHANNELS:
            driver.execute(f"LISTEN {channel}")
        return driver

