"""The schema, as SQLAlchemy Core tables; Alembic migrations in store/migrations create it."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from analytics.store.types import UtcDateTime

metadata = MetaData()

# The GPU model catalogue, seeded from gpucatalog on start-up.
gpu_models = Table(
    "gpu_models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column("model_name", String(128), nullable=False),
    Column("memory_gb", Float, nullable=False),
    Column("architecture", String(64), nullable=False),
    Column("mig_support", Boolean, nullable=False),
    Column("overheat_threshold_c", Float, nullable=False),
)

# The price book: the current USD price per GPU-hour of each model, with where it came from.
gpu_prices = Table(
    "gpu_prices",
    metadata,
    Column("model_id", String(64), ForeignKey("gpu_models.model_id"), primary_key=True),
    Column("price_per_hour", Float, nullable=True),
    Column("source", String(256), nullable=False),
    # When the price was read or set: an ISO date, or the year a catalogue price was read.
    Column("as_of", String(32), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(128), primary_key=True),
    Column("node_name", String(253), nullable=False),
    Column("device_index", Integer, nullable=False),
    Column("model_id", String(64), ForeignKey("gpu_models.model_id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("serial_number", String(64)),
    Column("pci_address", String(32)),
    Column("gpu_uuid", String(64), unique=True),
    Column("driver_version", String(32)),
    Column("firmware_version", String(32)),
    Column("purchase_cost", Float),
    Column("purchase_date", UtcDateTime),
    Column("warranty_expiry_date", UtcDateTime),
    # "api" for POST /gpu/devices, "exporter" for devices the inventory sync found (issue 4).
    Column("source", String(16), nullable=False),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime),
    # What the inventory sync saw (migration 0002): the NVML product name, and whether the
    # exporter reports the GPU: REPORTED, LOST (gpu_up 0), MISSING (no longer reported);
    # null for a device the exporter has never reported.
    Column("product_name", String(128)),
    Column("presence", String(16)),
    UniqueConstraint("node_name", "device_index", name="uq_devices_node_index"),
)

# MIG instances: "desired" rows come from the API, "observed" ones from the exporter (issue 4).
mig_instances = Table(
    "mig_instances",
    metadata,
    Column("instance_id", String(160), primary_key=True),
    Column("device_id", String(128), ForeignKey("devices.device_id"), nullable=False),
    Column("profile", String(32), nullable=False),
    Column("start_slice", Integer, nullable=False),
    Column("memory_slices", Integer, nullable=False),
    Column("compute_slices", Integer, nullable=False),
    Column("memory_gb", Float, nullable=False),
    Column("desired", Boolean, nullable=False),
    Column("observed", Boolean, nullable=False),
    Column("mig_uuid", String(64)),
    Column("gpu_instance_id", Integer),
    Column("compute_instance_id", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("observed_at", UtcDateTime),
    # Deleted from the desired layout while the exporter still reports it: hidden from every
    # reader but the inventory sync, which removes the row once the instance is gone.
    Column("retiring", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_mig_instances_device", "device_id"),
)

# The allocation ledger. Rows are never deleted; status moves ALLOCATED -> RELEASED | EXPIRED.
allocations = Table(
    "allocations",
    metadata,
    Column("allocation_id", String(16), primary_key=True),
    Column("resource_type", String(16), nullable=False),  # GPU | MIG_INSTANCE
    Column("resource_id", String(160), nullable=False),
    Column("device_id", String(128), ForeignKey("devices.device_id"), nullable=False),
    Column("node_name", String(253), nullable=False),
    Column("model_id", String(64), nullable=False),
    Column("mig_profile", String(32)),
    Column("namespace", String(63), nullable=False),
    Column("pod_name", String(253), nullable=False),
    Column("container_name", String(253)),
    Column("workload_type", String(64)),
    Column("user_id", String(128)),
    Column("team_id", String(128)),
    Column("project_id", String(128)),
    Column("batch_id", String(32)),
    Column("required_memory_gb", Float, nullable=False),
    Column("allocated_memory_gb", Float, nullable=False),
    Column("cost_per_hour", Float, nullable=False),
    Column("max_cost_per_hour", Float),
    Column("status", String(16), nullable=False),
    Column("allocation_time", UtcDateTime, nullable=False),
    Column("planned_release_time", UtcDateTime),
    Column("release_time", UtcDateTime),
    # Filled when the allocation ends: cost_per_hour x hours held.
    Column("cost_accrued", Float),
    # The database, not the application, guarantees one live allocation per device/instance.
    Index(
        "uq_allocations_active_resource",
        "resource_id",
        unique=True,
        sqlite_where=text("status = 'ALLOCATED'"),
        postgresql_where=text("status = 'ALLOCATED'"),
    ),
    Index("ix_allocations_status_release", "status", "planned_release_time"),
    Index("ix_allocations_device", "device_id", "status"),
    Index("ix_allocations_namespace", "namespace"),
)

allocation_events = Table(
    "allocation_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("allocation_id", String(16), ForeignKey("allocations.allocation_id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128)),
    Index("ix_allocation_events_allocation", "allocation_id"),
)

# GPUs the exporter reports whose NVML product name is not in the catalogue: recorded (and
# shown by the collection status) but not registered, since no model, price or geometry applies.
unrecognized_gpus = Table(
    "unrecognized_gpus",
    metadata,
    Column("gpu_uuid", String(64), primary_key=True),
    Column("node_name", String(253), nullable=False),
    Column("device_index", Integer, nullable=False),
    Column("product_name", String(128), nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
)

# One row per background job (the inventory sync): a lease so that one worker of all
# processes and replicas runs it at a time, and the outcome of the last run.
sync_state = Table(
    "sync_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(128)),
    Column("lease_expires_at", UtcDateTime),
    Column("last_started_at", UtcDateTime),
    Column("last_finished_at", UtcDateTime),
    Column("last_trigger", String(16)),
    Column("last_status", String(16)),
    # JSON: what the last run changed, or why it failed.
    Column("last_result", Text),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    # SHA-256 of the whole key, hex; keys are 256-bit random, so no salt or slow hash is needed.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    # The user the key acts for (migration 0005): its role is capped by the user's, and a
    # disabled user's keys stop working. NULL for keys made before accounts existed.
    Column("username", String(64)),
    Index("ix_api_keys_username", "username"),
)

# Accounts (migration 0005): HTTP basic with a password, or POST /auth/token for a JWT.
users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    # "scrypt$n$r$p$salt$hash" (base64): the parameters travel with the hash, so they can be
    # raised later without invalidating stored passwords.
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("team", String(128)),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Failed logins per user and per client address and fixed window (migration 0005): in the
# main database, so every replica sees the same count.
login_failures = Table(
    "login_failures",
    metadata,
    Column("bucket", String(200), primary_key=True),
    Column("window_start", Integer, primary_key=True),
    Column("count", Integer, nullable=False),
)

# Rate-limit counters: per client bucket and minute window. Kept in the main database with the
# "database" storage and in a separate SQLite file with the "file" storage.
rate_limit_counters = Table(
    "rate_limit_counters",
    metadata,
    Column("bucket", String(200), primary_key=True),
    Column("window_start", Integer, primary_key=True),
    Column("count", Integer, nullable=False),
)
