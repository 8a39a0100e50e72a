"""The commented starter baseline that `auditor init` writes (every key of docs/baseline.md)."""

STARTER_BASELINE = '''\
# Mailbox-access auditor baseline: what is INTENDED for this tenant.
# Every key is listed here; an unknown key is an error, so a typo never silently disables a check.
# Every number has the range its comment gives; a value outside it is an error naming the key.
# Secrets never go in this file: the client secret comes from AUDITOR_CLIENT_SECRET (or AZURE_CLIENT_SECRET),
# the jump host password from AUDITOR_PSRP_PASSWORD.

[tenant]
id = "00000000-0000-0000-0000-000000000000"   # Directory (tenant) ID
domain = "contoso.onmicrosoft.com"             # passed to Connect-ExchangeOnline -Organization
name = "Contoso"                               # optional; shown in reports

[auth]                          # the auditor's OWN read-only app, not the audited one
client_id = "00000000-0000-0000-0000-000000000000"
# certificate = "auditor.pem"   # PEM with private key + certificate; without it a client secret is used
# certificate_password_env = "AUDITOR_CERT_PASSWORD"
authority = "https://login.microsoftonline.com"      # sovereign clouds: their login host
graph_endpoint = "https://graph.microsoft.com"       # sovereign clouds: their Graph host
exchange_resource = "https://outlook.office365.com"  # token audience for Exchange
ca_bundle = ""                  # a CA bundle used instead of the system store (TLS inspection)
timeout_s = 30                  # seconds per HTTP request (1 to 600)

[exchange]
transport = "psrp"              # psrp | local | rest (experimental) | none (Exchange checks then SKIP, saying why)
server = "jump01.contoso.com"   # a Windows host with WinRM and the ExchangeOnlineManagement module
port = 5986                     # 1 to 65535
ssl = true
path = "wsman"
auth = "negotiate"              # negotiate | kerberos | ntlm | basic | certificate | credssp
encryption = "auto"             # auto | always | never
username = "CONTOSO\\\\svc-audit" # password from AUDITOR_PSRP_PASSWORD
configuration_name = "Microsoft.PowerShell"
connect = "jump-host"           # jump-host: Connect-ExchangeOnline -AccessToken; direct: cmdlets served already
operation_timeout_s = 60        # seconds per pipeline (1 to 3600)
pools = 2                       # runspace pools opened in parallel (1 to 16)
rest_endpoint = "https://outlook.office365.com/adminapi/beta"   # transport = "rest" only
pwsh_path = "pwsh"              # transport = "local" only: PowerShell 7.2+ with ExchangeOnlineManagement 3.1+
environment_name = ""           # Connect-ExchangeOnline -ExchangeEnvironmentName: "" derives it from exchange_resource

[policy]
credential_warning_days = 30    # CRED-002, TEN-003 (0 to 3650)
max_secret_lifetime_days = 365  # CRED-004 (1 to 36500)
canary_sample_size = 3          # SCOPE-005 (0 to 100): mailboxes outside the scope group to probe, besides canaries
canary_rotation = "weekly"      # weekly: the sample changes with the ISO week of the run | fixed
scope_canary_limit = 200        # SCOPE-005/007: mailboxes of the actual scope probed per integration (0 to 5000)

[[integration]]
name = "Contact Center"
app_id = "00000000-0000-0000-0000-000000000000"   # the audited app's Application (client) ID
permissions = ["Mail.ReadWrite", "Mail.Send"]     # bare names are Microsoft Graph; others "Resource:Value"
allowed_extra = []                                # further permissions tolerated
scope_group = "queues-sec@contoso.com"            # required for access_model "policy"
mailboxes = ["support@contoso.com", "sales@contoso.com"]
canaries = ["ceo@contoso.com"]                    # must stay out of reach
access_model = "policy"                           # policy (ApplicationAccessPolicy) | rbac (RBAC for Applications)
# group_managers = ["exchange-admin@contoso.com"] # optional: approved ManagedBy entries of the scope group
# owners = ["app-owner@contoso.com"]              # optional: approved owners of the app registration

[sweep]
enabled = true                  # TEN-*: every app in the tenant
include_microsoft_apps = false  # first-party Microsoft apps are left out
allowed_privileged = []         # app ids allowed to hold directory-takeover permissions

# [[waiver]]                    # accept one FAIL until a date
# check = "CRED-005"
# resource = "00000000-0000-0000-0000-000000000000"   # exact, or a glob
# reason = "Vendor supports client secrets only; ticket SEC-142"
# expires = 2027-03-31

[history]
path = ""                       # SQLite file; default in the user's data directory

[report]
title = ""                      # optional; e.g. an engagement name
organisation = ""               # optional; shown in the header
'''
