"""The embedded emulator as a run target: `auditor demo` and `auditor emulator`.

The emulator plays the tenant; the auditor reaches it exactly as it reaches Microsoft 365 (msal, requests and
pypsrp over HTTPS with TLS verification on), only the endpoints and credentials come from the tenant file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from auditor.collect.auth import Credentials
from auditor.collect.run import CollectionSettings
from auditor.emulator.ca import CertPaths
from auditor.emulator.exchange import attach
from auditor.emulator.exchange.rest import attach_rest
from auditor.emulator.faults import FaultPlan
from auditor.emulator.pwsh_launcher import remove_standin, standin_pwsh
from auditor.emulator.realism import realism_of
from auditor.emulator.server import EmulatorServer
from auditor.emulator.tenant import Tenant, load_tenant
from auditor.errors import TenantFileError
from auditor.models.baseline import (
    AuthConfig,
    Baseline,
    ExchangeAuth,
    ExchangeConfig,
    ExchangeConnect,
    ExchangeEncryption,
    ExchangeTransport,
    TenantConfig,
)
from auditor.samples import SAMPLES_DIR

DEMO_TENANT = SAMPLES_DIR / "tenants" / "demo.json"
DEMO_BASELINE = SAMPLES_DIR / "baselines" / "demo.toml"
EXCHANGE_AUDIENCE = "https://outlook.office365.com"


@contextmanager
def running_emulator(tenant_file: Path, faults: FaultPlan | None = None, port: int = 0,
                     now: datetime | None = None, certs: CertPaths | None = None,
                     realism: str | None = None) -> Iterator[EmulatorServer]:
    """`now` pins the emulator's clock (relative dates in the tenant file), for runs compared byte for byte;
    `certs` are kept ones (`auditor emulator --state-dir`), else each start makes a throwaway CA;
    `realism` (`KEY=VALUE,...`) overrides the tenant file's realism profile (docs/emulator.md)."""
    tenant = load_tenant(tenant_file, now)
    if realism:
        tenant.doc["emulator"]["realism"] = realism_of(tenant.doc).with_spec(realism).as_dict()
    if not tenant.doc["emulator"]["clients"]:
        raise TenantFileError(f"{tenant_file}: emulator.clients: needs at least one client for the auditor")
    server = EmulatorServer(tenant, faults, port=port, certs=certs).start()
    try:
        exchange = attach(server, mode="jump-host")
        attach_rest(server, exchange.cmdlets)  # one cmdlet layer behind both transports
        yield server
    finally:
        server.stop()
        remove_standin(server)


def emulator_baseline(base: Baseline, server: EmulatorServer) -> Baseline:
    """The baseline's intent ([policy], [[integration]], [sweep], ...) aimed at the emulator's endpoints."""
    tenant: Tenant = server.tenant
    client = tenant.doc["emulator"]["clients"][0]
    jump = tenant.doc["emulator"].get("jumpHost") or {}
    host, port = server.base_url.removeprefix("https://").rsplit(":", 1)
    return replace(
        base,
        tenant=TenantConfig(id=tenant.id, domain=tenant.default_domain, name=base.tenant.name or tenant.display_name),
        auth=AuthConfig(client_id=client["appId"], authority=server.base_url, graph_endpoint=server.base_url,
                        exchange_resource=EXCHANGE_AUDIENCE, ca_bundle=server.ca_path, timeout_s=base.auth.timeout_s,
                        run_deadline_s=base.auth.run_deadline_s),
        exchange=ExchangeConfig(
            transport=base.exchange.transport, server=host, port=int(port), ssl=True, path="wsman",
            auth=ExchangeAuth.BASIC, encryption=ExchangeEncryption.AUTO, username=str(jump.get("username", "")),
            configuration_name="Microsoft.PowerShell", connect=ExchangeConnect.JUMP_HOST,
            operation_timeout_s=base.exchange.operation_timeout_s, pools=base.exchange.pools,
            listing=base.exchange.listing, rest_endpoint=f"{server.base_url}/adminapi/beta",
            # transport "local": the emulator's stand-in for pwsh, made only when asked for
            pwsh_path=str(standin_pwsh(server)) if base.exchange.transport is ExchangeTransport.LOCAL
            else base.exchange.pwsh_path),
    )


def emulator_settings(server: EmulatorServer) -> CollectionSettings:
    """The demo signs in as the tenant file's first client (`emulator.clients[0]`) and jump-host account."""
    emu = server.tenant.doc["emulator"]
    client = emu["clients"][0]
    if client.get("secret"):
        credentials = Credentials(client["appId"], secret=client["secret"])
    elif client.get("privateKey") and client.get("certificate"):
        credentials = Credentials(client["appId"], private_key_pem=client["privateKey"],
                                  certificate_pem=client["certificate"])
    else:
        raise TenantFileError("emulator.clients[0]: needs a secret, or a certificate with its privateKey, "
                              "for the demo to sign in")
    return CollectionSettings(credentials=credentials, psrp_password=(emu.get("jumpHost") or {}).get("password"))


def baseline_toml(server: EmulatorServer) -> str:
    """A baseline pointing at a running emulator, for `auditor audit` (secrets stay in the environment)."""
    tenant = server.tenant
    host, port = server.base_url.removeprefix("https://").rsplit(":", 1)
    jump = tenant.doc["emulator"].get("jumpHost") or {}

    def q(value: object) -> str:
        """A TOML basic string: JSON's escaping is valid TOML, so tenant text cannot add keys or tables."""
        return json.dumps(str(value), ensure_ascii=True)

    return f'''[tenant]
id = {q(tenant.id)}
domain = {q(tenant.default_domain)}
name = {q(tenant.display_name)}

[auth]
client_id = {q(tenant.doc["emulator"]["clients"][0]["appId"])}
authority = {q(server.base_url)}
graph_endpoint = {q(server.base_url)}
exchange_resource = {q(EXCHANGE_AUDIENCE)}
ca_bundle = {q(server.ca_path)}

[exchange]
transport = "psrp"
server = {q(host)}
port = {int(port)}
ssl = true
path = "wsman"
auth = "basic"
username = {q(jump.get("username", ""))}
connect = "jump-host"
rest_endpoint = {q(server.base_url + "/adminapi/beta")}

# Add your [[integration]] entries, [policy] and [sweep] here (see samples/baselines/demo.toml).
'''
