"""The baseline: what is intended, as a TOML file (docs/baseline.md).

Every key is known: an unknown key is an error, so a typo never silently disables a check. Errors are
one line naming the file, the key and the problem (exit code 2).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError
from auditor.models.tables import TableReader

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CHECK_ID_RE = re.compile(r"^[A-Z]+-\d{3}$")


# -- closed choices: one enum each, read by the TOML reader and offered by the CLI alike. A new value (a new
# transport, say) is one member here plus its branch where the choice is dispatched.


class MailboxListing(StrEnum):
    """How the mailbox pool is listed ([exchange] listing; docs/microsoft-facts.md, "Partitioned mailbox listing")."""

    PLAIN = "plain"  # one Get-EXOMailbox -ResultSize Unlimited pipeline
    PARTITIONED = "partitioned"  # disjoint -Filter partitions by the last character of Name, over the pools


class ExchangeTransport(StrEnum):
    """How Exchange Online is reached ([exchange] transport)."""

    PSRP = "psrp"  # PowerShell remoting to a jump host (or an endpoint) running the module
    REST = "rest"  # experimental: the module's InvokeCommand endpoint, called directly
    LOCAL = "local"  # a `pwsh -s` child on this machine running the module, over PowerShell's out-of-process PSRP
    NONE = "none"  # Exchange is not read; its checks SKIP, saying why


class ExchangeAuth(StrEnum):
    """How the PSRP transport authenticates to the host ([exchange] auth)."""

    NEGOTIATE = "negotiate"
    KERBEROS = "kerberos"
    NTLM = "ntlm"
    BASIC = "basic"
    CERTIFICATE = "certificate"
    CREDSSP = "credssp"


class ExchangeEncryption(StrEnum):
    """Message encryption over WSMan ([exchange] encryption)."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


class ExchangeConnect(StrEnum):
    """What the PSRP host is ([exchange] connect): a jump host that runs Connect-ExchangeOnline, or an endpoint
    already connected to Exchange."""

    JUMP_HOST = "jump-host"
    DIRECT = "direct"


class ExchangeEnvironment(StrEnum):
    """Connect-ExchangeOnline -ExchangeEnvironmentName ([exchange] environment_name): the documented values
    (docs/microsoft-facts.md, "Exchange Online session"); unset, it is derived from [auth] exchange_resource."""

    O365_DEFAULT = "O365Default"  # Microsoft 365 and GCC
    O365_GERMANY_CLOUD = "O365GermanyCloud"
    O365_CHINA = "O365China"  # operated by 21Vianet
    O365_US_GOV_GCC_HIGH = "O365USGovGCCHigh"
    O365_US_GOV_DOD = "O365USGovDoD"


class AccessModel(StrEnum):
    """How an integration's mailbox access is meant to be scoped (integration access_model)."""

    POLICY = "policy"  # an ApplicationAccessPolicy (RestrictAccess to a mail-enabled security group)
    RBAC = "rbac"  # RBAC for Applications (management role assignments with a scope)


class CanaryRotation(StrEnum):
    """Whether the sampled canaries change with the ISO week of the run (SCOPE-005)."""

    WEEKLY = "weekly"
    FIXED = "fixed"


def _as_members(config: object, **choices: type[StrEnum]) -> None:
    """Plain strings given in code (builders, the emulator's baseline) become members: a choice is always its
    enum, and an unknown value fails where the object is made."""
    for name, kind in choices.items():
        object.__setattr__(config, name, kind(getattr(config, name)))


@dataclass(frozen=True)
class TenantConfig:
    id: str = ""
    domain: str = ""
    name: str = ""


@dataclass(frozen=True)
class AuthConfig:
    client_id: str = ""
    certificate: str = ""
    certificate_password_env: str = ""
    authority: str = "https://login.microsoftonline.com"
    graph_endpoint: str = "https://graph.microsoft.com"
    exchange_resource: str = "https://outlook.office365.com"
    ca_bundle: str = ""
    timeout_s: float = 30.0
    run_deadline_s: float = 1800.0  # the whole run (one portfolio tenant): sign-in, Graph and Exchange


@dataclass(frozen=True)
class ExchangeConfig:
    transport: ExchangeTransport = ExchangeTransport.PSRP
    server: str = ""
    port: int = 5986
    ssl: bool = True
    path: str = "wsman"
    auth: ExchangeAuth = ExchangeAuth.NEGOTIATE
    encryption: ExchangeEncryption = ExchangeEncryption.AUTO
    username: str = ""
    configuration_name: str = "Microsoft.PowerShell"
    connect: ExchangeConnect = ExchangeConnect.JUMP_HOST
    operation_timeout_s: float = 60.0
    pools: int = 2
    rest_endpoint: str = "https://outlook.office365.com/adminapi/beta"
    pwsh_path: str = "pwsh"  # transport = "local": PowerShell 7's executable (a bare name is looked up on PATH)
    environment_name: ExchangeEnvironment | None = None  # None: derived from [auth] exchange_resource
    listing: MailboxListing = MailboxListing.PARTITIONED

    def __post_init__(self) -> None:
        _as_members(self, transport=ExchangeTransport, auth=ExchangeAuth, encryption=ExchangeEncryption,
                    connect=ExchangeConnect, listing=MailboxListing)
        if self.environment_name is not None:
            _as_members(self, environment_name=ExchangeEnvironment)


@dataclass(frozen=True)
class PolicyConfig:
    credential_warning_days: int = 30
    max_secret_lifetime_days: int = 365
    canary_sample_size: int = 3
    scope_canary_limit: int = 200
    """Mailboxes of an integration's actual scope probed as scope canaries (SCOPE-005); the rest are counted."""
    canary_rotation: CanaryRotation = CanaryRotation.WEEKLY
    """weekly: the sample's order includes the ISO week of the collection; fixed: the same order every run."""

    def __post_init__(self) -> None:
        _as_members(self, canary_rotation=CanaryRotation)


@dataclass(frozen=True)
class Integration:
    name: str
    app_id: str
    permissions: tuple[str, ...]
    allowed_extra: tuple[str, ...] = ()
    scope_group: str = ""
    mailboxes: tuple[str, ...] = ()
    canaries: tuple[str, ...] = ()
    access_model: AccessModel = AccessModel.POLICY
    group_managers: tuple[str, ...] | None = None
    """None when not given: GRP-004 then judges only MemberJoinRestriction."""
    owners: tuple[str, ...] | None = None
    """None when not given: OWN-001 then judges only guest/disabled owners."""

    def __post_init__(self) -> None:
        _as_members(self, access_model=AccessModel)

    @property
    def allowed_permissions(self) -> tuple[str, ...]:
        return self.permissions + self.allowed_extra


@dataclass(frozen=True)
class SweepConfig:
    enabled: bool = True
    include_microsoft_apps: bool = False
    allowed_privileged: tuple[str, ...] = ()


@dataclass(frozen=True)
class Waiver:
    check: str
    resource: str
    reason: str
    expires: date


@dataclass(frozen=True)
class HistoryConfig:
    path: str = ""


@dataclass(frozen=True)
class ReportConfig:
    title: str = ""
    organisation: str = ""


@dataclass(frozen=True)
class Baseline:
    source: str
    sha256: str
    tenant: TenantConfig
    auth: AuthConfig
    exchange: ExchangeConfig
    policy: PolicyConfig
    integrations: tuple[Integration, ...]
    sweep: SweepConfig
    waivers: tuple[Waiver, ...]
    history: HistoryConfig
    report: ReportConfig


LIMITS: dict[str, tuple[int, int]] = {
    "timeout_s": (1, 600),                       # seconds per HTTP request
    "run_deadline_s": (5, 86400),                # seconds for a whole run (or portfolio tenant)
    "port": (1, 65535),
    "operation_timeout_s": (1, 3600),            # seconds per PSRP pipeline
    "pools": (1, 16),                            # runspace pools (or REST requests) in parallel
    "credential_warning_days": (0, 3650),        # ten years
    "max_secret_lifetime_days": (1, 36500),      # a hundred years
    "canary_sample_size": (0, 100),
    "scope_canary_limit": (0, 5000),             # scope canaries probed per integration (SCOPE-005)
}
"""Every number's range (inclusive), as the starter baseline documents it: out of range is an error naming the key
before any sign-in, so a typo never becomes a run that cannot end or a date past year 9999."""


TOP_LEVEL = {"tenant", "auth", "exchange", "policy", "integration", "sweep", "waiver", "history", "report"}


def load_baseline(path: Path) -> Baseline:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_baseline(text, origin=str(path), sha256=hashlib.sha256(raw).hexdigest())


def parse_baseline(text: str, origin: str = "baseline", sha256: str = "") -> Baseline:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays recursively
        raise ConfigError(f"{origin}: not valid TOML: arrays or tables nested too deeply") from None
    top = TableReader(origin, "", doc)
    top.only(TOP_LEVEL)
    integrations = _integrations(origin, doc.get("integration", []))
    return Baseline(
        source=origin,
        sha256=sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest(),
        tenant=_tenant(TableReader(origin, "tenant", doc.get("tenant", {}))),
        auth=_auth(TableReader(origin, "auth", doc.get("auth", {}))),
        exchange=_exchange(TableReader(origin, "exchange", doc.get("exchange", {}))),
        policy=_policy(TableReader(origin, "policy", doc.get("policy", {}))),
        integrations=integrations,
        sweep=_sweep(TableReader(origin, "sweep", doc.get("sweep", {}))),
        waivers=_waivers(origin, doc.get("waiver", [])),
        history=_history(TableReader(origin, "history", doc.get("history", {}))),
        report=_report(TableReader(origin, "report", doc.get("report", {}))),
    )


def _tenant(r: TableReader) -> TenantConfig:
    r.only({"id", "domain", "name"})
    tenant_id = r.text("id")
    if tenant_id and not GUID_RE.match(tenant_id):
        raise r.error("id", f"{tenant_id!r} is not a GUID (the Directory (tenant) ID)")
    return TenantConfig(id=tenant_id.lower(), domain=r.text("domain"), name=r.text("name"))


def _auth(r: TableReader) -> AuthConfig:
    r.only({"client_id", "certificate", "certificate_password_env", "authority", "graph_endpoint",
            "exchange_resource", "ca_bundle", "timeout_s", "run_deadline_s"})
    client_id = r.text("client_id")
    if client_id and not GUID_RE.match(client_id):
        raise r.error("client_id", f"{client_id!r} is not a GUID (the auditor app's Application (client) ID)")
    for key in ("authority", "graph_endpoint", "exchange_resource"):
        value = r.text(key, "x")
        if key in r.table and not value.startswith("https://"):
            raise r.error(key, f"{value!r} must be an https:// URL")
    d = AuthConfig()
    return AuthConfig(
        client_id=client_id,
        certificate=r.text("certificate"),
        certificate_password_env=r.text("certificate_password_env"),
        authority=r.text("authority", d.authority).rstrip("/"),
        graph_endpoint=r.text("graph_endpoint", d.graph_endpoint).rstrip("/"),
        exchange_resource=r.text("exchange_resource", d.exchange_resource).rstrip("/"),
        ca_bundle=r.text("ca_bundle"),
        timeout_s=float(r.number("timeout_s", d.timeout_s, *LIMITS["timeout_s"], integer=False)),
        run_deadline_s=float(r.number("run_deadline_s", d.run_deadline_s, *LIMITS["run_deadline_s"],
                                      integer=False)),
    )


def _exchange(r: TableReader) -> ExchangeConfig:
    r.only({"transport", "server", "port", "ssl", "path", "auth", "encryption", "username",
            "configuration_name", "connect", "operation_timeout_s", "pools", "rest_endpoint", "pwsh_path",
            "environment_name", "listing"})
    d = ExchangeConfig()
    port = r.number("port", d.port, *LIMITS["port"])
    return ExchangeConfig(
        transport=r.choice("transport", ExchangeTransport, d.transport),
        server=r.text("server"),
        port=port,
        ssl=r.flag("ssl", d.ssl),
        path=r.text("path", d.path),
        auth=r.choice("auth", ExchangeAuth, d.auth),
        encryption=r.choice("encryption", ExchangeEncryption, d.encryption),
        username=r.text("username"),
        configuration_name=r.text("configuration_name", d.configuration_name),
        connect=r.choice("connect", ExchangeConnect, d.connect),
        operation_timeout_s=float(r.number("operation_timeout_s", d.operation_timeout_s,
                                           *LIMITS["operation_timeout_s"], integer=False)),
        pools=r.number("pools", d.pools, *LIMITS["pools"]),
        rest_endpoint=r.text("rest_endpoint", d.rest_endpoint).rstrip("/"),
        pwsh_path=_pwsh_path(r, d.pwsh_path),
        environment_name=r.choice("environment_name", ExchangeEnvironment, ExchangeEnvironment.O365_DEFAULT)
        if r.text("environment_name") else None,
        listing=r.choice("listing", MailboxListing, d.listing),
    )


def _pwsh_path(r: TableReader, default: str) -> str:
    """An executable's name or path: never empty, never an option or a command line with control characters."""
    value = r.text("pwsh_path", default)
    if not value.strip() or value != value.strip():
        raise r.error("pwsh_path", "must be the path (or name) of PowerShell 7's pwsh, without surrounding spaces")
    if value.startswith("-") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise r.error("pwsh_path", "must be a path to pwsh, not options or control characters")
    return value


def _policy(r: TableReader) -> PolicyConfig:
    r.only({"credential_warning_days", "max_secret_lifetime_days", "canary_sample_size", "scope_canary_limit",
            "canary_rotation"})
    d = PolicyConfig()
    return PolicyConfig(
        credential_warning_days=r.number("credential_warning_days", d.credential_warning_days,
                                         *LIMITS["credential_warning_days"]),
        max_secret_lifetime_days=r.number("max_secret_lifetime_days", d.max_secret_lifetime_days,
                                          *LIMITS["max_secret_lifetime_days"]),
        canary_sample_size=r.number("canary_sample_size", d.canary_sample_size, *LIMITS["canary_sample_size"]),
        scope_canary_limit=r.number("scope_canary_limit", d.scope_canary_limit, *LIMITS["scope_canary_limit"]),
        canary_rotation=r.choice("canary_rotation", CanaryRotation, d.canary_rotation),
    )


INTEGRATION_KEYS = {"name", "app_id", "permissions", "allowed_extra", "scope_group", "mailboxes", "canaries",
                    "access_model", "group_managers", "owners"}


def _integrations(origin: str, raw: Any) -> tuple[Integration, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{origin}: integration: must be an array of tables ([[integration]])")
    out: list[Integration] = []
    seen: set[str] = set()
    for i, table in enumerate(raw):
        r = TableReader(origin, f"integration[{i}]", table)
        r.only(INTEGRATION_KEYS)
        name = r.text("name", required=True)
        if name in seen:
            raise r.error("name", f"{name!r} is used by another integration")
        seen.add(name)
        r.prefix = f"integration[{i}] ({name})"
        app_id = r.text("app_id", required=True)
        if not GUID_RE.match(app_id):
            raise r.error("app_id", f"{app_id!r} is not a GUID (the Application (client) ID)")
        access_model = r.choice("access_model", AccessModel, AccessModel.POLICY)
        scope_group = r.text("scope_group")
        if access_model is AccessModel.POLICY and not scope_group.strip():
            raise r.error("scope_group", 'is required when access_model is "policy"')
        mailboxes = r.strings("mailboxes")
        canaries = r.strings("canaries")
        overlap = {m.lower() for m in mailboxes} & {c.lower() for c in canaries}
        if overlap:
            raise r.error("canaries", f"{sorted(overlap)[0]} is also a queue mailbox")
        out.append(Integration(
            name=name,
            app_id=app_id.lower(),
            permissions=r.strings("permissions", required=True),
            allowed_extra=r.strings("allowed_extra"),
            scope_group=scope_group.strip(),
            mailboxes=mailboxes,
            canaries=canaries,
            access_model=access_model,
            group_managers=r.strings("group_managers", default=None),
            owners=r.strings("owners", default=None),
        ))
    return tuple(out)


def _sweep(r: TableReader) -> SweepConfig:
    r.only({"enabled", "include_microsoft_apps", "allowed_privileged"})
    allowed = r.strings("allowed_privileged")
    for i, app_id in enumerate(allowed):
        if not GUID_RE.match(app_id):
            raise r.error(f"allowed_privileged[{i}]", f"{app_id!r} is not an app id (GUID)")
    return SweepConfig(
        enabled=r.flag("enabled", True),
        include_microsoft_apps=r.flag("include_microsoft_apps", False),
        allowed_privileged=tuple(a.lower() for a in allowed),
    )


def _waivers(origin: str, raw: Any) -> tuple[Waiver, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{origin}: waiver: must be an array of tables ([[waiver]])")
    out = []
    for i, table in enumerate(raw):
        r = TableReader(origin, f"waiver[{i}]", table)
        r.only({"check", "resource", "reason", "expires"})
        check_id = r.text("check", required=True)
        if not CHECK_ID_RE.match(check_id):
            raise r.error("check", f"{check_id!r} is not a check id like CRED-005")
        expires = r.get("expires", (date, str), required=True)
        if isinstance(expires, datetime):
            expires = expires.date()
        elif isinstance(expires, str):
            try:
                expires = date.fromisoformat(expires)
            except ValueError:
                raise r.error("expires", f"{expires!r} is not a date (write 2027-03-31)") from None
        out.append(Waiver(check=check_id, resource=r.text("resource", required=True),
                          reason=r.text("reason", required=True), expires=expires))
    return tuple(out)


def _history(r: TableReader) -> HistoryConfig:
    r.only({"path"})
    return HistoryConfig(path=r.text("path"))


def _report(r: TableReader) -> ReportConfig:
    r.only({"title", "organisation"})
    return ReportConfig(title=r.text("title"), organisation=r.text("organisation"))
