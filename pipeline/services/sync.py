"""Connections and syncs: a source system's records pulled from its API, nightly and on demand.

A sync is, per stream (accounts, then leads, then deals: `Connector.streams`), an import batch
whose rows come from the API instead of a file: the connector writes its pages, as CSV with the
columns of the vendor's built-in preset, to a file on disk, and the import then reads that file
exactly as it reads an upload (same checks, row errors, held rows, atomicity, audit). The first
sync of an object pulls everything and is a full export (records the system no longer holds are
marked deleted); later ones pull what changed since the last applied sync, with the ids the
system says were deleted. Salesforce adds one stream that is no import: the deals' stage history
(OpportunityHistory), written by `stage_history.deal_stage_history_load` once the deals applied.

Safety:
- Nothing is written until an object's pull is complete and its batch applies in one
  transaction, so a sync that dies half-way leaves the last good data.
- After every page the file's good length and the API's cursor are stored on the run; the next
  sync of the connection picks up a failed run's unfinished pulls from there (`resumed_from`)
  instead of pulling again from the start.
- An object's cursor (the time from which the next sync pulls changes) moves only when its
  batch applied, to the start of that pull less a margin for clock skew, never backwards; the
  import's own check stops an older batch from overwriting a newer one.
- One sync of a connection at a time (a constraint, and a lock its worker holds); a run whose
  worker died is marked failed when its lock is free and its heartbeat old.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from pipeline.choices import (
    ApplyMode,
    BatchStatus,
    ConnectorAuth,
    ExportKind,
    SyncStatus,
    SyncTrigger,
    Vendor,
)
from pipeline.connectors.base import Connector, ConnectorError, url_check
from pipeline.models import SYNC_OBJECT_ORDER, Connection, ImportBatch, SourceSystem, SyncRun
from pipeline.selectors import connections_stale_forget
from revops.crypto import SecretUnreadable, secret_decrypt, secret_encrypt
from revops.db import advisory_lock

logger = logging.getLogger(__name__)

SYNC_LOCK_CLASS = 7_303_014  # pg_advisory_lock(class, connection id) while a sync runs
# The next sync pulls changes from the start of the last applied pull less this: a record
# changed while the pull ran, or stamped by a clock a little behind ours, is pulled again.
CLOCK_MARGIN = timedelta(minutes=5)
HUBSPOT_API = "https://api.hubapi.com"
# The stream of a deal's stage history as the system recorded it (Salesforce only).
HISTORY_STREAM = "deal_history"
SALESFORCE_LOGIN = "https://login.salesforce.com"
VENDOR_AUTHS = {
    Vendor.HUBSPOT: (ConnectorAuth.HUBSPOT_TOKEN,),
    Vendor.SALESFORCE: (ConnectorAuth.SALESFORCE_JWT, ConnectorAuth.SALESFORCE_PASSWORD),
}


# --- Connections ----------------------------------------------------------------------------


def connector_for(conn: Connection, *, on_call=None) -> Connector:
    """The connector of `conn`, signed in with its decrypted secret."""
    if not conn.secret:
        raise ConnectorError(
            "This connection has no credentials: enter them and save.", reconnect=True
        )
    try:
        secret = secret_decrypt(conn.secret)
    except SecretUnreadable as exc:
        raise ConnectorError(str(exc), reconnect=True) from None
    if conn.auth == ConnectorAuth.HUBSPOT_TOKEN:
        from pipeline.connectors.hubspot import HubSpotConnector

        return HubSpotConnector(conn, secret=secret, on_call=on_call)
    from pipeline.connectors.salesforce import SalesforceConnector

    return SalesforceConnector(conn, secret=secret, on_call=on_call)


def _secret_text(auth: str, *, token: str, private_key: str, password: str, security_token: str):
    """The secret as stored (before encryption), or None when nothing new was entered."""
    if auth == ConnectorAuth.HUBSPOT_TOKEN:
        return token.strip() or None
    if auth == ConnectorAuth.SALESFORCE_JWT:
        key = private_key.strip()
        if not key:
            return None
        if "PRIVATE KEY-----" not in key:
            raise ValidationError(
                {"private_key": "Paste the whole private key, from -----BEGIN PRIVATE KEY-----."}
            )
        return json.dumps({"private_key": key})
    if not password:
        return None
    return json.dumps({"password": password, "security_token": security_token.strip()})


@transaction.atomic
def connection_save(
    *,
    system: SourceSystem,
    by: AbstractBaseUser | None,
    auth: str,
    url: str = "",
    username: str = "",
    consumer_key: str = "",
    token: str = "",
    private_key: str = "",
    password: str = "",
    security_token: str = "",
    objects_synced: list[str] | None = None,
    nightly: bool = True,
    fresh_hours: int = 26,
) -> Connection:
    """Connect `system` to its API, or change its connection. A secret left blank keeps the
    one stored; a new one replaces it, encrypted. Raises ValidationError saying what is
    missing or wrong."""
    allowed = VENDOR_AUTHS.get(system.vendor)
    if not allowed:
        raise ValidationError(
            f"{system.name} is a {system.get_vendor_display()} system: only HubSpot and "
            "Salesforce systems connect to an API. Import its exports instead."
        )
    if auth not in allowed:
        raise ValidationError({"auth": f"{system.get_vendor_display()} signs in with a token."})
    if system.retired_at is not None:
        raise ValidationError(f"{system.name} is retired: it takes no new data.")
    default = HUBSPOT_API if auth == ConnectorAuth.HUBSPOT_TOKEN else SALESFORCE_LOGIN
    try:
        url = url_check(url or default)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from None
    conn = Connection.objects.filter(system=system).first() or Connection(system=system)
    changed_auth = conn.pk is not None and conn.auth != auth
    conn.auth, conn.url = auth, url
    conn.username = username.strip() if auth != ConnectorAuth.HUBSPOT_TOKEN else ""
    conn.consumer_key = consumer_key.strip() if auth == ConnectorAuth.SALESFORCE_JWT else ""
    problems = {}
    if auth != ConnectorAuth.HUBSPOT_TOKEN and not conn.username:
        problems["username"] = "Give the Salesforce username the sync signs in as."
    if auth == ConnectorAuth.SALESFORCE_JWT and not conn.consumer_key:
        problems["consumer_key"] = "Give the connected app's consumer key."
    text = _secret_text(
        auth, token=token, private_key=private_key, password=password,
        security_token=security_token,
    )  # fmt: skip
    if text is not None:
        conn.secret = secret_encrypt(text)
    elif changed_auth or not conn.secret:
        field = {
            ConnectorAuth.HUBSPOT_TOKEN: "token",
            ConnectorAuth.SALESFORCE_JWT: "private_key",
            ConnectorAuth.SALESFORCE_PASSWORD: "password",
        }[auth]
        problems[field] = "Enter it: the connection has none stored for this way of signing in."
    if problems:
        raise ValidationError(problems)
    objects = [o for o in SYNC_OBJECT_ORDER if o in (objects_synced or SYNC_OBJECT_ORDER)]
    if not objects:
        raise ValidationError({"objects_synced": "Choose at least one kind of record to sync."})
    conn.objects_synced = [str(o) for o in objects]
    conn.nightly = nightly
    if not 1 <= int(fresh_hours) <= 24 * 14:
        raise ValidationError({"fresh_hours": "Between 1 hour and 14 days (336 hours)."})
    conn.fresh_hours = int(fresh_hours)
    if conn.pk is None:
        conn.created_by = by if getattr(by, "pk", None) else None
    conn.last_test_at = conn.last_test_ok = None
    conn.last_test_message = ""
    conn.save()
    transaction.on_commit(connections_stale_forget)
    return conn


@transaction.atomic
def connection_remove(*, conn: Connection, by: AbstractBaseUser | None) -> None:
    """Disconnect: the stored secret and the connection go; the records synced stay."""
    if conn.runs.filter(status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING]).exists():
        raise ValidationError("A sync is running: wait for it to end, then disconnect.")
    conn.delete()
    transaction.on_commit(connections_stale_forget)


def connection_test(conn: Connection) -> tuple[bool, str]:
    """Try the credentials and say in a sentence what worked or what did not; stored on the
    connection for its page."""
    try:
        connector = connector_for(conn)
        ok, message = True, connector.check()
        limits = connector.limits()
    except ConnectorError as exc:
        ok, message, limits = False, exc.message, {}
    except Exception as exc:  # an API answer no branch expected: say so, do not 500
        logger.exception("testing connection %s", conn.pk)
        ok, message, limits = False, f"The test failed unexpectedly: {type(exc).__name__}.", {}
    fields = {"last_test_at": timezone.now(), "last_test_ok": ok, "last_test_message": message}
    if limits:
        fields["api_limits"] = {**limits, "at": timezone.now().isoformat()}
    Connection.objects.filter(pk=conn.pk).update(**fields)
    for name, value in fields.items():
        setattr(conn, name, value)
    return ok, message


# --- Starting a sync ------------------------------------------------------------------------


def _lock_free(conn_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [SYNC_LOCK_CLASS, conn_id])
        got = cursor.fetchone()[0]
        if got:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SYNC_LOCK_CLASS, conn_id])
    return got


def syncs_reap() -> list[int]:
    """Mark failed the running syncs whose worker died (no lock, no heartbeat for a while),
    so the next sync resumes them. Returns their ids."""
    # No heartbeat this long and nobody holding the lock: the worker died (as for imports).
    old = timezone.now() - timedelta(seconds=settings.IMPORT_DEAD_AFTER_SECONDS)
    reaped = []
    for run in SyncRun.objects.filter(status=SyncStatus.RUNNING, heartbeat_at__lt=old):
        if _lock_free(run.connection_id):
            done = SyncRun.objects.filter(pk=run.pk, status=SyncStatus.RUNNING).update(
                status=SyncStatus.FAILED,
                finished_at=timezone.now(),
                message="The worker running this sync stopped; the next sync resumes from "
                "where it got to.",
            )
            if done:
                reaped.append(run.pk)
    return reaped


def sync_start(
    *,
    conn: Connection,
    trigger: str,
    by: AbstractBaseUser | None = None,
    run_now: bool = False,
) -> SyncRun:
    """Queue a sync of `conn` (run in-process, `run_now`, by the nightly task). Refuses when
    one is already queued or running, or the connection has no credentials."""
    if not conn.secret:
        raise ValidationError("Enter the connection's credentials first.")
    if conn.system.retired_at is not None:
        raise ValidationError(f"{conn.system.name} is retired: it takes no new data.")
    syncs_reap()
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                connection=conn,
                trigger=trigger,
                created_by=by if getattr(by, "pk", None) else None,
                full=any(o not in conn.cursors for o in conn.objects_synced),
            )
    except IntegrityError:
        raise ValidationError(
            f"A sync of {conn.system.name} is already queued or running."
        ) from None
    if run_now:
        return sync_execute(run.pk)
    from pipeline.tasks import sync_run_task

    try:
        transaction.on_commit(lambda: sync_run_task.delay(run.pk))
    except Exception as exc:  # the broker is away
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncStatus.FAILED,
            finished_at=timezone.now(),
            message=f"The sync could not be queued ({type(exc).__name__}); try again soon.",
        )
        run.refresh_from_db()
    return run


def syncs_nightly() -> list[SyncRun]:
    """The schedule's syncs: every nightly connection of a live system, one after another
    (the reconciliation that follows waits for them)."""
    runs = []
    conns = Connection.objects.filter(nightly=True, system__retired_at__isnull=True)
    for conn in conns.select_related("system").exclude(secret=""):
        try:
            runs.append(sync_start(conn=conn, trigger=SyncTrigger.SCHEDULE, run_now=True))
        except ValidationError as exc:
            logger.info("Nightly sync of %s skipped: %s", conn.system.name, " ".join(exc.messages))
    return runs


def syncs_active() -> bool:
    return SyncRun.objects.filter(status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING]).exists()


# --- Running a sync -------------------------------------------------------------------------


def sync_execute(run_id: int) -> SyncRun:
    """Run a queued sync (or one whose worker died, redelivered). Safe to call twice: a run
    another worker holds, or one that ended, is returned as it is."""
    run = SyncRun.objects.select_related("connection__system").get(pk=run_id)
    with advisory_lock((SYNC_LOCK_CLASS, run.connection_id), statement_timeout=None) as acquired:
        if not acquired:
            return run
        claimed = SyncRun.objects.filter(
            pk=run_id, status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING]
        ).update(status=SyncStatus.RUNNING, heartbeat_at=timezone.now())
        run.refresh_from_db()
        if not claimed:
            return run
        if run.started_at is None:
            run.started_at = timezone.now()
            _adopt(run)
            run.save(update_fields=["started_at", "progress", "resumed_from"])
        try:
            _execute(run)
        except Exception as exc:
            logger.exception("sync %s failed", run.pk)
            _finish(run, SyncStatus.FAILED, f"The sync failed: {type(exc).__name__}: {exc}")
    run.refresh_from_db()
    return run


def _adopt(run: SyncRun) -> None:
    """Take over the unfinished pulls of the connection's last run, if it failed."""
    last = (
        SyncRun.objects.filter(connection_id=run.connection_id, status=SyncStatus.FAILED)
        .exclude(pk=run.pk)
        .order_by("-created_at", "-id")
        .first()
    )
    if last is None:
        return
    later = SyncRun.objects.filter(
        connection_id=run.connection_id, status=SyncStatus.SUCCEEDED, created_at__gt=last.created_at
    )
    if later.exists():
        return
    for object_type, state in (last.progress or {}).items():
        if state.get("state") in ("pulling", "pulled") and Path(state.get("file", "")).exists():
            run.progress[object_type] = {**state, "resumed": True}
            run.resumed_from = last
            run.full = run.full or state.get("since") is None


def _save(run: SyncRun) -> None:
    SyncRun.objects.filter(pk=run.pk).update(
        progress=run.progress, api_calls=run.api_calls, heartbeat_at=timezone.now()
    )


def _finish(run: SyncRun, status: str, message: str = "") -> None:
    connections_stale_forget()
    run.status, run.message, run.finished_at = status, message[:4000], timezone.now()
    SyncRun.objects.filter(pk=run.pk).update(
        status=status,
        message=run.message,
        finished_at=run.finished_at,
        progress=run.progress,
        api_calls=run.api_calls,
    )


def _sync_dir(run: SyncRun) -> Path:
    path = Path(settings.MEDIA_ROOT) / "sync" / str(run.pk)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _execute(run: SyncRun) -> None:
    conn = run.connection

    def counted() -> None:
        run.api_calls += 1

    try:
        connector = connector_for(conn, on_call=counted)
    except ConnectorError as exc:
        _finish(run, SyncStatus.FAILED, exc.message)
        return
    problems = []
    for object_type in connector.streams():
        state = run.progress.setdefault(object_type, {})
        if state.get("state") == "applied":
            continue
        try:
            if state.get("state") != "pulled":
                _pull(run, connector, object_type, state)
            if object_type == HISTORY_STREAM:
                _apply_history(run, connector, state)
            else:
                _apply(run, connector, object_type, state)
        except ConnectorError as exc:
            state["message"] = exc.message
            problems.append(exc.message)
            if exc.reconnect:
                Connection.objects.filter(pk=conn.pk).update(
                    last_test_at=timezone.now(), last_test_ok=False, last_test_message=exc.message
                )
                _save(run)
                break  # the other objects would fail the same way
        _save(run)
        if state.get("state") in ("failed", "held"):
            problems.append(state.get("message", ""))
    limits = connector.limits()
    if limits:
        Connection.objects.filter(pk=conn.pk).update(
            api_limits={**limits, "at": timezone.now().isoformat()}
        )
    if problems:
        _finish(run, SyncStatus.FAILED, " ".join(dict.fromkeys(p for p in problems if p)))
        return
    Connection.objects.filter(pk=conn.pk).update(last_synced_at=run.started_at)
    _finish(run, SyncStatus.SUCCEEDED)


def _since(conn: Connection, object_type: str) -> str | None:
    return (conn.cursors.get(object_type) or {}).get("since")


def _pull(run: SyncRun, connector: Connector, object_type: str, state: dict) -> None:
    """Pull the object's pages into its file, storing after each page how far it got."""
    if "file" not in state:
        state.update(
            {
                "state": "pulling",
                "since": _since(run.connection, object_type),
                "started": timezone.now().isoformat(),
                "file": str(_sync_dir(run) / f"{object_type}.csv"),
                "bytes": 0,
                "pulled": 0,
                "deleted": [],
                "cursor": None,
            }
        )
        _save(run)
    since = datetime.fromisoformat(state["since"]) if state.get("since") else None
    path = Path(state["file"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as out:
        out.truncate(state["bytes"])  # what a dead run wrote after its last good page goes
        out.seek(state["bytes"])
        for page in connector.pull(object_type, since=since, cursor=state.get("cursor")):
            text = page.csv if page.csv.endswith("\n") or not page.csv else page.csv + "\n"
            header, _, body = text.partition("\n")
            if state["bytes"] == 0:
                out.write(text.encode())
                state["header"] = header
            elif _columns_of(header) != _columns_of(state.get("header", "")):
                raise ConnectorError(
                    f"The API's columns changed in the middle of the sync of {object_type}s; "
                    "it starts again from the beginning next time."
                )
            else:
                out.write(body.encode())
            out.flush()
            os.fsync(out.fileno())
            state["bytes"] = out.tell()
            state["cursor"] = page.cursor
            state["pulled"] += page.rows
            if page.deleted:
                state["deleted"] = list(dict.fromkeys([*state["deleted"], *page.deleted]))
            _save(run)
    state["state"] = "pulled"
    _save(run)


def _columns_of(header: str) -> list[str]:
    """A CSV header's column names, however they are quoted."""
    return next(csv.reader([header]), [])


def _dedupe(path: Path, id_column: str) -> None:
    """Keep the last copy of each record in an incremental pull's file (a page can be
    fetched twice where a search starts again from its last timestamp)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or id_column not in header:
            return
        at = header.index(id_column)
        rows = {row[at]: row for row in reader if row}
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows.values())


def _apply(run: SyncRun, connector: Connector, object_type: str, state: dict) -> None:
    """Import the object's pulled file as a batch, and move its cursor when it applied."""
    from pipeline.services.imports import import_batch_create, import_batch_run, mapping_for

    conn = run.connection
    batch = (
        ImportBatch.objects.filter(pk=state.get("batch")).first() if state.get("batch") else None
    )
    if batch is None:
        if state["pulled"] == 0 and not state["deleted"]:
            # Nothing changed. (An empty first pull is not taken as "everything was deleted":
            # an API that answers no rows is more often a permission than an empty CRM.)
            _applied(run, object_type, state, None)
            return
        preset = connector.preset_for(object_type)
        mapping, _ = mapping_for(object_type=object_type, preset=preset)
        mapping = dataclasses.replace(
            mapping, ignore=tuple(dict.fromkeys([*mapping.ignore, "SystemModstamp", "IsDeleted"]))
        )
        path = Path(state["file"])
        if state.get("since"):
            _dedupe(path, mapping.fields["external_id"].column)
        with open(path, "rb") as content:
            batch = import_batch_create(
                system=conn.system,
                object_type=object_type,
                mapping=mapping,
                preset=preset,
                by=run.created_by,
                apply=True,
                file_name=f"{conn.system.slug}-{object_type}s-sync-{run.pk}.csv",
                content=File(content, name=path.name),
                apply_mode=ApplyMode.VALID_ROWS,
                export_kind=ExportKind.DELTA if state.get("since") else ExportKind.FULL,
                deleted_ids=state["deleted"],
                sync_run=run,
            )
        state["batch"] = batch.pk
        _save(run)
    if batch.status in (BatchStatus.QUEUED, BatchStatus.RUNNING):
        batch = import_batch_run(batch.pk)
    state.update(
        {
            "created": batch.rows_created,
            "updated": batch.rows_updated,
            "removed": batch.rows_deleted,
            "held": batch.rows_held,
        }
    )
    if batch.status == BatchStatus.APPLIED:
        _applied(run, object_type, state, batch)
    elif batch.status == BatchStatus.PENDING:
        state["state"] = "held"
        state["message"] = (
            f"The {object_type}s were pulled and checked, and wait on batch #{batch.pk}: "
            f"{batch.message or 'confirm it to apply them.'}"
        )
    else:
        state["state"] = "failed"
        state["message"] = f"Batch #{batch.pk} of the {object_type}s: {batch.message}"


def _apply_history(run: SyncRun, connector: Connector, state: dict) -> None:
    """Write the pulled stage history of the deals (after the deals themselves applied)."""
    from pipeline.services.imports import mapping_for
    from pipeline.services.stage_history import deal_stage_history_load

    if state["pulled"] == 0:
        _applied(run, HISTORY_STREAM, state, None)
        return
    if (run.progress.get("deal") or {}).get("state") != "applied":
        state["state"] = "failed"
        state["message"] = "The deals did not apply, so their stage history waits for them."
        return
    mapping, _ = mapping_for(object_type="deal", preset=connector.preset_for("deal"))
    try:
        loaded = deal_stage_history_load(
            system=run.connection.system,
            path=Path(state["file"]),
            stages=mapping.fields["stage"].values,
        )
    except ValueError as exc:
        state["state"], state["message"] = "failed", str(exc)
        return
    state.update({"created": loaded.added, "updated": loaded.replaced, "removed": 0,
                  "held": loaded.unmatched})  # fmt: skip
    _applied(run, HISTORY_STREAM, state, None)


def _applied(run: SyncRun, object_type: str, state: dict, batch: ImportBatch | None) -> None:
    """The object's data is in: move its cursor (never backwards) and drop the pulled file."""
    started = datetime.fromisoformat(state["started"])
    since = (started - CLOCK_MARGIN).isoformat()
    with transaction.atomic():
        conn = Connection.objects.select_for_update().get(pk=run.connection_id)
        current = _since(conn, object_type)
        if current is None or datetime.fromisoformat(current) < datetime.fromisoformat(since):
            conn.cursors = {**conn.cursors, object_type: {"since": since, "run": run.pk}}
            Connection.objects.filter(pk=conn.pk).update(cursors=conn.cursors)
        run.connection.cursors = conn.cursors
    state["state"] = "applied"
    state.pop("cursor", None)
    if batch is not None:
        state["batch"] = batch.pk
    path = Path(state["file"])
    path.unlink(missing_ok=True)  # the batch keeps its own copy
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # the run's folder, once its last file is gone
