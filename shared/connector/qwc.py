"""The QuickBooks Web Connector's .qwc file, and the password the merchant types in once.

A .qwc file tells the Web Connector on the accounting PC where the connector's
SOAP endpoint is (AppURL), who it logs in as (UserName), how often to run
(Scheduler) and which OwnerID/FileID pair to stamp into the company file on
first contact. The password is not in the file: the merchant types it into the
Web Connector, and the connector keeps only its scrypt hash.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from lxml import etree

from connector.config import Connection
from connector.errors import ConfigError, PermanentError
from connector.ledgers.qbd.password import hash_password, new_password
from connector.secrets import QbdSecrets, SecretVault, secret_missing

# Fixed namespace for the uuid5 ids: the same tenant and connection always get the same
# OwnerID/FileID pair, so a regenerated .qwc matches what the company file already carries.
ID_NAMESPACE = uuid.UUID("5b0c4f8e-2d7a-4b43-9a3e-6c1f0e8d2a71")
# The Web Connector accepts plain http only to the PC it runs on.
LOCAL_HOSTS = ("localhost", "127.0.0.1")
QB_TYPE = "QBFS"  # QuickBooks Financial Software (Pro, Premier, Enterprise), not Point of Sale
# Orders should land while nobody has QuickBooks open: ask for unattended access.
UNATTENDED_MODE = "umpRequired"
# The connector never reads SSNs or full card numbers, QuickBooks' "personal data".
PERSONAL_DATA = "pdpNotNeeded"


@dataclass(frozen=True)
class QwcFile:
    xml: str
    app_url: str
    support_url: str
    owner_id: str
    file_id: str


def app_url(base_url: str, connection_id: str) -> str:
    """POST /qbwc/{connection_id} under the API's base URL; https unless on this machine."""
    base = base_url.strip().rstrip("/")
    parts = urlsplit(base)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{base_url!r} is not an http(s) URL of the connector's API")
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise ConfigError(
            f"{base_url} is plain http: the Web Connector refuses it with QBWC1051 (the service "
            "URL is not on a secure (https) server). Use the https API URL; http is accepted "
            "only for localhost or 127.0.0.1"
        )
    return f"{base}/qbwc/{connection_id}"


def qwc_ids(tenant: str, connection_id: str, generation: int = 0) -> tuple[str, str]:
    """(OwnerID, FileID) as {GUID}s, stable per tenant, connection and generation.

    A new generation gives a pair the company file has never seen: the way out of
    QBWC1039 when the application was removed and is added again.
    """
    if generation < 0:
        raise ConfigError("the id generation is a whole number, 0 or more")
    base = f"ml-connector/{tenant}/{connection_id}" + (f"/{generation}" if generation else "")
    owner = uuid.uuid5(ID_NAMESPACE, f"{base}/owner")
    file = uuid.uuid5(ID_NAMESPACE, f"{base}/file")
    return _guid(owner), _guid(file)


def _guid(value: uuid.UUID) -> str:
    return "{" + str(value).upper() + "}"


def render_qwc(
    *, tenant: str, connection: Connection, base_url: str, generation: int = 0
) -> QwcFile:
    """The .qwc document for one QuickBooks Desktop connection."""
    ledger = connection.qbd  # ConfigError for a QuickBooks Online connection
    url = app_url(base_url, connection.id)
    # The Web Connector wants AppSupport on the AppURL's host; GET on the endpoint answers.
    support = f"{url}?support"
    owner_id, file_id = qwc_ids(tenant, connection.id, generation)
    root = etree.Element("QBWCXML")
    fields = (
        ("AppName", ledger.app_name),
        ("AppID", ""),
        ("AppURL", url),
        (
            "AppDescription",
            f"ml-connector: orders and customers of {connection.store.address} into QuickBooks "
            f"Desktop (tenant {tenant}, connection {connection.id})",
        ),
        ("AppSupport", support),
        ("UserName", ledger.user_name),
        ("OwnerID", owner_id),
        ("FileID", file_id),
        ("QBType", QB_TYPE),
        ("PersonalDataPref", PERSONAL_DATA),
        ("UnattendedModePref", UNATTENDED_MODE),
    )
    for name, text in fields:
        etree.SubElement(root, name).text = text
    scheduler = etree.SubElement(root, "Scheduler")
    etree.SubElement(scheduler, "RunEveryNMinutes").text = str(ledger.run_every_minutes)
    etree.SubElement(root, "IsReadOnly").text = "false"
    xml = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return QwcFile(
        xml=xml.decode("utf-8"),
        app_url=url,
        support_url=support,
        owner_id=owner_id,
        file_id=file_id,
    )


def stored_password_hash(vault: SecretVault, connection_id: str) -> str | None:
    """The Web Connector password's hash, or None while the connection has none yet."""
    try:
        return vault.qbd(connection_id).password_hash
    except PermanentError:
        return None  # the secret holds the stack's placeholder, not a hash
    except GetParameterError as exc:
        if secret_missing(exc):
            return None
        raise


def ensure_password(vault: SecretVault, connection_id: str, *, rotate: bool) -> str | None:
    """A new password (stored as its hash only) on first use or when rotating, else None.

    The returned password exists nowhere else: the caller shows it once.
    """
    if not rotate and stored_password_hash(vault, connection_id) is not None:
        return None
    password = new_password()
    vault.save_qbd(connection_id, QbdSecrets(password_hash=hash_password(password)))
    return password
