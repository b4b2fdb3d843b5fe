"""The tables of durable state. Alembic migrations (shared/db/migrations) create and change them;
these definitions are what the code queries, and a test checks the two agree."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

# Constraint names fixed by convention, so migrations can refer to them on both engines.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Sequence numbers: BIGINT on PostgreSQL, and SQLite's INTEGER PRIMARY KEY (its rowid) there.
Seq = BigInteger().with_variant(Integer(), "sqlite")

# One row per event, in its latest state. `seq` orders events that start in the same microsecond
# and makes the page cursor; `id` is the analyzer's id, unique, which makes storing idempotent.
events = Table(
    "events",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("camera_id", Integer, nullable=False),
    Column("type", String(16), nullable=False),
    Column("phase", String(8), nullable=False),
    Column("started_at", Float, nullable=False),  # Unix seconds, exactly as published
    Column("started_us", BigInteger, nullable=False),  # the same in whole microseconds: the order and the cursor
    Column("ended_at", Float, nullable=True),
    Column("score", Float, nullable=True),
    Column("box", JSON, nullable=True),  # {"x", "y", "w", "h"} in the camera's full-frame pixels
    Column("frames", Integer, nullable=False),
    Column("has_snapshot", Boolean, nullable=False),
    Column("published_at", Float, nullable=False),
    Column("stored_at", Float, nullable=False),  # when this row was last written
    Column("identity", String(100), nullable=True),  # a recognised face's enrolled name (migration 0005)
    Column("similarity", Float, nullable=True),
    # What was seen: person, face or an object's label (car, dog, ...); None for motion (migration 0006).
    Column("label", String(32), nullable=True),
    Column("stationary", Boolean, nullable=False, server_default=false()),  # ended because it stood still
    Column("reason", String(200), nullable=True),  # why a health event happened (migration 0009)
    # Rule events (migration 0011): the zone or line, the way it was crossed, the track.
    Column("zone", String(40), nullable=True),
    Column("line", String(40), nullable=True),
    Column("direction", String(8), nullable=True),
    Column("track_id", BigInteger, nullable=True),
    Index("ix_events_started", "started_us", "seq"),
    Index("ix_events_camera_started", "camera_id", "started_us", "seq"),
    Index("ix_events_type_started", "type", "started_us", "seq"),
    Index("ix_events_label_started", "label", "started_us", "seq"),
    Index("ix_events_camera_type_started", "camera_id", "type", "started_us"),  # counts (migration 0011)
)

# Snapshot JPEGs, apart from the rows so that listing events never reads them.
event_snapshots = Table(
    "event_snapshots",
    metadata,
    Column("event_id", String(64), ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("jpeg", LargeBinary, nullable=False),
)

# Camera definitions as written (credentials as `${VAR}` placeholders stay placeholders).
cameras = Table(
    "cameras",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("definition", JSON, nullable=False),  # the camera's mapping, as in the camera file
    Column("revision", Integer, nullable=False),  # the value of meta "cameras_revision" when last changed
    Column("updated_at", Float, nullable=False),
    Column("created_at", Float, nullable=True),  # when it was added (migration 0010)
)

# Small named values: the cameras' revision, the hash of the camera file last applied.
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

CAMERAS_REVISION = "cameras_revision"
CAMERAS_FILE_SHA256 = "cameras_file_sha256"
CAMERAS_FILE_PROBLEM = "cameras_file_problem"  # why the camera file was refused (shared.db.camera_file)

# People who log in. `role` is "admin" or "viewer"; the password is an Argon2id hash (PHC string).
users = Table(
    "users",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("password_changed_at", Float, nullable=False),
)

# Browser sessions, by the SHA-256 of the cookie's secret (the secret itself is never stored).
# Deleting a user, or changing their password, deletes their sessions: they end at once.
sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Seq, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),  # slides forward while the session is used
    Column("client", String(64), nullable=True),
)

# API tokens for programs, by the SHA-256 of the secret. A token acts as its user, with a role
# no higher than the one it was given (and no higher than the user's own, checked at each use).
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("user_id", Seq, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),  # refused from then on (migration 0007)
)

# Who did what, when, from where: logins (and failed ones), user, token and camera changes.
audit = Table(
    "audit",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=True),  # the user name, or None before a login succeeded
    Column("action", String(32), nullable=False),
    Column("target", String(128), nullable=True),
    Column("client", String(64), nullable=True),
    Column("detail", JSON, nullable=True),
    Index("ix_audit_at", "at"),
)

# Recording segments: the index of the files under CAMSTREAM_RECORDINGS_DIR (the files are the truth;
# `python -m recorder reindex` rebuilds this from them). `events`: overlaps a person or face event
# (with the camera's pre/post capture), kept for events_retain_days; `motion`: overlaps any event.
# `decided`: the camera's mode has judged it (kept; segments it does not keep are deleted).
recordings = Table(
    "recordings",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("camera_id", Integer, nullable=False),
    Column("start_ms", BigInteger, nullable=False),  # Unix milliseconds, as in the file's name
    Column("end_ms", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("path", String(255), nullable=False),  # relative to the recordings folder of its host
    Column("events", Boolean, nullable=False),
    Column("motion", Boolean, nullable=False),
    Column("decided", Boolean, nullable=False),
    # Whose disk holds the file: "" for the folder every host shares, else the host that serves it
    # (recording_hosts).
    Column("host", String(63), nullable=False, server_default=""),
    UniqueConstraint("host", "path"),
    Index("ix_recordings_camera_start", "camera_id", "start_ms"),
    Index("ix_recordings_start", "start_ms"),
)

# The hosts whose footage stays on their own disk: where their recorder serves it, and how full
# the disk is, as the recorder last said (every pass).
recording_hosts = Table(
    "recording_hosts",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("url", String(255), nullable=False),
    Column("free_bytes", BigInteger, nullable=False),
    Column("total_bytes", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),  # Unix time
)

# Webhooks and notification targets, configured by admins (bridge/ delivers to them). `kind` is
# `webhook` or `notify`; `definition` holds the URL (sealed when it holds credentials), the sealed
# secret, and the filters (shared/integrations.py).
integrations = Table(
    "integrations",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Where each of the bridge's targets is in the events stream: the id of the last event message
# it delivered (or gave up), so a restart resumes there and delivers nothing twice.
bridge_cursors = Table(
    "bridge_cursors",
    metadata,
    Column("target", String(100), primary_key=True),
    Column("last_id", String(40), nullable=False),
    Column("updated_at", Float, nullable=False),
)

# People whose faces are recognised: a name, and samples (each an embedding from one picture, and
# the face cut from it, so the dashboard can show what was enrolled). Deleting a person deletes
# their samples (ON DELETE CASCADE): nothing of them stays.
known_people = Table(
    "known_people",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

face_samples = Table(
    "face_samples",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("person_id", Seq, ForeignKey("known_people.id", ondelete="CASCADE"), nullable=False),
    Column("embedding", LargeBinary, nullable=False),  # 128 float32, little-endian, unit norm
    Column("face_jpeg", LargeBinary, nullable=False),  # the aligned 112x112 face
    Column("source", String(100), nullable=False),  # "upload" or "event <id>"
    Column("created_at", Float, nullable=False),
    Index("ix_face_samples_person", "person_id"),
)
