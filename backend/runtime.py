"""The wired-up process: stores, the authorizer, the token codec, the clock and the job broker.

Built once by the app factory, the server or a CLI command from the settings, and imported by
nothing else: the domains and the jobs receive the pieces they use (a session maker, the
ClickHouse client, the keyring, the clock...) from whoever holds the runtime, never the
runtime itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.alarms.broadcast import AlarmBroadcaster
from backend.alarms.notify import Notifier
from backend.auth.authz import Authorizer
from backend.auth.throttle import Throttle
from backend.auth.tokens import TokenCodec
from backend.core.clock import WALL_CLOCK, AdjustableClock, Clock
from backend.core.db import create_app_engine, create_owner_engine, make_sessionmaker
from backend.core.mail import FileMailer
from backend.core.objects import FileObjectStore
from backend.core.settings import Settings
from backend.jobs.broker import Jobs, declare_actors, make_broker
from backend.jobs.retention import RetentionJob
from backend.reports.service import ReportIntake
from backend.telemetry.batches import BatchLedger
from backend.telemetry.flusher import Flusher
from backend.telemetry.ingest import Ingest
from backend.telemetry.mqtt import MqttDirectory
from backend.telemetry.quota import RateLimiter
from backend.telemetry.registry import DeviceRegistry
from backend.telemetry.spool import Spool
from backend.telemetry.store import ClickHouseClient, open_client
from privacy.crypto import KeyStore, bind_key_store
from privacy.keyring import Keyring, load_keyring


@dataclass
class Runtime:
    settings: Settings

    @cached_property
    def clock(self) -> Clock:
        """What every timer reads: the wall clock, or under ``ANJIAN_TEST_CLOCK`` (test
        processes only) one that ``POST /api/v1/test/clock`` moves ahead."""
        return AdjustableClock() if self.settings.test_clock else WALL_CLOCK

    @cached_property
    def engine(self) -> AsyncEngine:
        return create_app_engine(self.settings)

    @cached_property
    def owner_engine(self) -> Engine:
        return create_owner_engine(self.settings)

    @cached_property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Sessions that seal and open encrypted columns with this runtime's keys."""
        return bind_key_store(make_sessionmaker(self.engine), self.keys)

    @cached_property
    def keyring(self) -> Keyring:
        return load_keyring(self.settings.master_key_file)

    @cached_property
    def keys(self) -> KeyStore:
        """Data keys unwrapped with the keyring (re-read from its file after a rotation)."""
        return KeyStore(self.keyring, self.settings.master_key_file)

    @cached_property
    def tokens(self) -> TokenCodec:
        return TokenCodec(
            self.keyring,
            self.settings.token_ttl_seconds,
            idle_seconds=self.settings.session_idle_minutes * 60,
        )

    @cached_property
    def authz(self) -> Authorizer:
        return Authorizer(self.owner_engine)

    @cached_property
    def login_throttle(self) -> Throttle:
        """Sign-in throttling policy and clock (its state is in the relational store)."""
        return Throttle()

    @cached_property
    def clickhouse(self) -> ClickHouseClient:
        return open_client(self.settings)

    @cached_property
    def jobs(self) -> Jobs:
        return declare_actors(
            make_broker(self.settings), FileMailer(self.settings.mail_dir), self.notifier
        )

    @cached_property
    def notifier(self) -> Notifier:
        """Alarm notifications (webhook, e-mail, SMS), run by the notify actor."""
        return Notifier.from_settings(self.settings, keys=self.keys)

    @cached_property
    def spool(self) -> Spool:
        return Spool(self.settings.spool_dir, max_unflushed_bytes=self.settings.spool_max_bytes)

    @cached_property
    def ledger(self) -> BatchLedger:
        return BatchLedger(self.settings.spool_dir / "batches.sqlite")

    @cached_property
    def ingest(self) -> Ingest:
        return Ingest(
            DeviceRegistry(self.sessions),
            self.spool,
            self.ledger,
            RateLimiter(),
            self.objects,
        )

    @cached_property
    def objects(self) -> FileObjectStore:
        """Stored files: camera snapshots and the photos people attach."""
        return FileObjectStore(self.settings.objects_dir)

    @cached_property
    def report_intake(self) -> ReportIntake:
        """Public hazard reports: proofs of work, photos, rate limits (state in the store)."""
        return ReportIntake(
            keyring=self.keyring,
            objects=self.objects,
            difficulty=self.settings.report_pow_difficulty,
            clock=self.clock,
        )

    @cached_property
    def flusher(self) -> Flusher:
        return Flusher(
            self.spool, self.clickhouse, self.ledger, self.settings.spool_dir / "flushed.json"
        )

    @cached_property
    def mqtt_directory(self) -> MqttDirectory | None:
        """The broker's device accounts, when Anjian manages an MQTT broker."""
        url = self.settings.mqtt_admin_url
        return MqttDirectory(url) if url else None

    @cached_property
    def retention(self) -> RetentionJob:
        """The daily purge and erasure (``anjian retention`` runs it once)."""
        return RetentionJob(
            sessions=self.sessions,
            owner_engine=self.owner_engine,
            clickhouse=lambda: self.clickhouse,
            keyring=self.keyring,
            clock=self.clock,
        )

    @cached_property
    def alarm_broadcaster(self) -> AlarmBroadcaster:
        return AlarmBroadcaster()

    @property
    def log2_n(self) -> int:
        return self.settings.password_log2_n

    async def close(self) -> None:
        if "engine" in self.__dict__:
            await self.engine.dispose()
        if "owner_engine" in self.__dict__:
            self.owner_engine.dispose()
        if "jobs" in self.__dict__:
            self.jobs.broker.close()
        if "notifier" in self.__dict__:
            self.notifier.close()
        if "flusher" in self.__dict__:
            self.flusher.stop()
        if "spool" in self.__dict__:
            self.spool.close()
        if "ledger" in self.__dict__:
            self.ledger.close()
        if self.__dict__.get("mqtt_directory") is not None:
            self.mqtt_directory.close()
