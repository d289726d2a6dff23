"""`make dev`'s state across restarts, in one JSON file (`.local/dev-state.json`, ignored by git;
WXCOMPONENT_DEV_STATE names another): the table's items, the component secret, and the WeChat
sandbox's world, so that the grants and tickets in the table stay ones the sandbox knows.

moto's server keeps everything in memory and has no persistence of its own, so the items are read
through the DynamoDB API and written back the same way; the table itself is always created from
template.yaml. The file is saved every few seconds when something changed, and at stop: a crash
loses at most the last few seconds. Each save goes to a temporary file that is then renamed over
the old one, so a kill at any moment leaves the old file or the new one, never half of one. A file
that cannot be restored is set aside (`.bad`) with a one-line reason, and make dev starts fresh.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from infra.local.template import ROOT, load_template, table_definition

STATE_VARIABLE = "WXCOMPONENT_DEV_STATE"
DEFAULT_PATH = ROOT / ".local" / "dev-state.json"
FORMAT = "wxcomponent make dev state"
VERSION = 2  # 2: an authorizer's grant, token, lease, refusal and budget in one item (docs/decisions.md)
OLDER_SHAPES = {1: "an authorizer's grant, token and lease in items of their own"}


class StateUnusable(Exception):
    """A saved state that cannot be restored; the message says why, in a few words."""


class StateInUse(Exception):
    """Another make dev holds the state file."""


def state_path() -> Path:
    configured = os.environ.get(STATE_VARIABLE, "").strip()
    return Path(configured).expanduser() if configured else DEFAULT_PATH


def shown(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass
class Saved:
    saved_at: float
    items: list[dict[str, Any]]
    secret: dict[str, Any] | None
    sandbox: dict[str, Any] | None


# -- the file ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    """Holds `<state>.lock` for a make dev (or a reset): two of them never write one file. The
    kernel releases it when the process ends, however it ends."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with lock_path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise StateInUse(
                f"{shown(path)} is in use by another make dev (pid {holder}): stop it first, "
                f"or set {STATE_VARIABLE} to another file"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read(path: Path, component_appid: str) -> Saved | None:
    """The saved state, or None when there is none; StateUnusable when it cannot be used."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateUnusable(f"unreadable ({exc.strerror})") from None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise StateUnusable("not JSON, damaged") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StateUnusable("not a make dev state")
    _check_version(document.get("version"))
    if document.get("component_appid") != component_appid:
        raise StateUnusable(
            f"saved for component {document.get('component_appid')}, this run is {component_appid} "
            "(WECHAT_COMPONENT_APPID)"
        )
    if document.get("table_keys") != table_keys():
        raise StateUnusable("the table's keys in template.yaml changed since it was saved")
    items, secret, sandbox = document.get("items"), document.get("secret"), document.get("sandbox")
    saved_at = document.get("saved_at")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise StateUnusable("its items are not a list of items")
    if not isinstance(saved_at, (int, float)) or not isinstance(secret, (dict, type(None))):
        raise StateUnusable("damaged")
    if not isinstance(sandbox, (dict, type(None))):
        raise StateUnusable("its sandbox world is not an object")
    try:
        decoded = [_decode_item(item) for item in items]
    except (ValueError, TypeError, AttributeError):
        raise StateUnusable("its items are not DynamoDB items") from None
    return Saved(float(saved_at), decoded, secret, sandbox)


def _check_version(version: object) -> None:
    if version in OLDER_SHAPES:
        raise StateUnusable(
            f"saved in an older shape of the table (format {version}: {OLDER_SHAPES[version]}); "
            f"this is format {VERSION}, which it cannot be read into"
        )
    if version != VERSION:
        raise StateUnusable(f"written by another version (format {version!r}, this is {VERSION})")


def write(path: Path, document: dict[str, Any]) -> None:
    """Replaces the file in one step: written and synced under another name, then renamed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def set_aside(path: Path) -> Path:
    """Moves an unusable state out of the way (kept for a look) and returns where it went."""
    bad = path.with_name(path.name + ".bad")
    os.replace(path, bad)
    return bad


def forget(path: Path) -> list[Path]:
    """Deletes the saved state, its set-aside copy and any temporary file a crash left; what was deleted."""
    candidates = [path, path.with_name(path.name + ".bad"), *path.parent.glob(f"{path.name}.*.tmp")]
    deleted = []
    for candidate in candidates:
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            deleted.append(candidate)
    return deleted


def table_keys() -> dict[str, Any]:
    """What every saved item must fit: the template's primary key and its attributes' types (an
    index added since is built from the items as they are restored)."""
    table = table_definition(load_template())
    names = [key["AttributeName"] for key in table["KeySchema"]]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    types = {name: kind for name, kind in types.items() if name in names}
    return {"KeySchema": table["KeySchema"], "AttributeTypes": types}


# -- DynamoDB items in JSON (binary values as base64) ---------------------------------------------


def _encode_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _encode_value(value) for name, value in item.items()}


def _encode_value(value: dict[str, Any]) -> dict[str, Any]:
    (kind, content), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64encode(content).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(part).decode("ascii") for part in content]}
    if kind == "M":
        return {"M": _encode_item(content)}
    if kind == "L":
        return {"L": [_encode_value(part) for part in content]}
    return {kind: content}


def _decode_item(item: dict[str, Any]) -> dict[str, Any]:
    return {str(name): _decode_value(value) for name, value in item.items()}


def _decode_value(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) != 1:
        raise ValueError("an attribute value has exactly one type")
    (kind, content), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64decode(content, validate=True)}
    if kind == "BS":
        return {"BS": [base64.b64decode(part, validate=True) for part in content]}
    if kind == "M":
        return {"M": _decode_item(content)}
    if kind == "L":
        return {"L": [_decode_value(part) for part in content]}
    if kind not in ("S", "N", "BOOL", "NULL", "SS", "NS"):
        raise ValueError(f"unknown attribute type {kind}")
    return {kind: content}


# -- the running stack's state ----------------------------------------------------------------------


class Keeper:
    """Reads and writes one stack's state: the table and the secret in the emulator, and the
    sandbox's world (through `world`, which may return None when there is no sandbox)."""

    def __init__(
        self,
        path: Path,
        emulator_url: str,
        table_name: str,
        secret_name: str,
        component_appid: str,
        world: Callable[[], Any],
    ) -> None:
        self.path = path
        self._dynamodb = boto3.client("dynamodb", endpoint_url=emulator_url, region_name="us-east-1")
        self._secrets = boto3.client("secretsmanager", endpoint_url=emulator_url, region_name="us-east-1")
        self._table = table_name
        self._secret = secret_name
        self.component_appid = component_appid
        self._world = world
        self._last: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.saved_at: float | None = None

    # -- restoring -------------------------------------------------------------------------------

    def restore_items(self, items: list[dict[str, Any]]) -> None:
        """Puts the saved items into the (new, empty) table; StateUnusable when they do not fit it."""
        for start in range(0, len(items), 25):
            puts = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            batch: dict[str, Any] = {self._table: puts}
            try:
                while batch:
                    batch = self._dynamodb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
            except ClientError as exc:
                raise StateUnusable(f"its items do not fit the table ({exc.response['Error']['Code']})") from None
            except ParamValidationError:
                raise StateUnusable("its items are not DynamoDB items") from None

    # -- saving ----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The state now. The table is read before the sandbox's world: a refresh token the table
        took in between is then one the world knows too."""
        items: list[dict[str, Any]] = []
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True):
            items.extend(_encode_item(item) for item in page.get("Items", []))
        items.sort(key=lambda item: json.dumps(item, sort_keys=True))  # a stable file when nothing changed
        secret = json.loads(self._secrets.get_secret_value(SecretId=self._secret)["SecretString"])
        world = self._world()
        return {
            "format": FORMAT,
            "version": VERSION,
            "component_appid": self.component_appid,
            "table_keys": table_keys(),
            "items": items,
            "secret": secret,
            "sandbox": world.export() if world is not None else None,
        }

    def save(self) -> bool:
        """Writes the state if it changed since the last save; True when it wrote."""
        document = self.snapshot()
        content = json.dumps(document, sort_keys=True)
        if content == self._last:
            return False
        now = time.time()
        write(self.path, {**document, "saved_at": now})
        self._last = content
        self.saved_at = now
        return True

    def save_every(self, interval: float, out: IO[str]) -> None:
        """Saves in the background every `interval` seconds (when something changed)."""

        def run() -> None:
            warned = False
            while not self._stop.wait(interval):
                try:
                    self.save()
                    warned = False
                except (BotoCoreError, ClientError, OSError, ValueError) as exc:
                    if not warned:  # once per spell, not every few seconds
                        out.write(f"state: not saved ({type(exc).__name__}); the last save is kept\n")
                        out.flush()
                    warned = True

        self._thread = threading.Thread(target=run, name="state-saver", daemon=True)
        self._thread.start()

    def stop_saving(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
