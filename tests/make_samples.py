"""Builds samples/snapshots/sample-snapshot.json. Run `python -m tests.make_samples` after changing it;
tests/test_samples.py fails while the committed file is stale."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import (
    APP,
    MICROSOFT_TENANT,
    SnapshotBuilder,
    cert,
    secret,
    sp_owner,
    user_owner,
)
from tests.make_demo_tenant import (  # the sample and the demo tenant share their cast of apps
    ARCHIVER,
    BACKUP,
    FAX,
    GOVERNANCE,
    MS_APP,
    PROVISIONING,
    REPORTING,
    SURVEY,
    TICKETING,
    VENDOR_TENANT,
)

CALENDAR_SYNC = "abababab-0000-4000-8000-000000000020"
SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "snapshots" / "sample-snapshot.json"


def build() -> SnapshotBuilder:
    b = SnapshotBuilder()
    b.collection = {"source": "hand-built sample (tests/make_samples.py)", "exchange_transport": "psrp"}
    # Contact Center: compliant.
    b.app(APP, "Contact Center", credentials=[], certificates=[cert(-30, 300, "cc-cert")],
          owners=[user_owner("owner@contoso.com")])
    for address in ("support@contoso.com", "sales@contoso.com"):
        b.mailbox(address, user=False)
        b.access_test(APP, address, "Granted")
    b.mailbox("ceo@contoso.com", "UserMailbox", user=True)
    b.mailbox("cfo@contoso.com", "UserMailbox", user=True)
    b.mailbox("alice@contoso.com", "UserMailbox", user=True)
    b.group("cctr_sec_group@contoso.com", ["support@contoso.com", "sales@contoso.com"],
            managed_by=["Exchange Admin"])
    b.data("exchange.recipients").append({**b.recipient("exchange-admin@contoso.com", "UserMailbox"),
                                          "Name": "Exchange Admin"})
    b.policy(APP, "cctr_sec_group@contoso.com")
    b.canaries(APP, ["ceo@contoso.com"], ["alice@contoso.com"])
    b.access_test(APP, "ceo@contoso.com", "Denied")
    b.access_test(APP, "alice@contoso.com", "Denied")

    # Ticketing: drifted everywhere.
    b.app(TICKETING, "Ticketing", requested=("Mail.ReadWrite", "Mail.Read", "Application.ReadWrite.All"),
          granted=("Mail.ReadWrite", "Mail.Read", "Files.ReadWrite.All"),
          credentials=[secret(-700, 20, "tk-2y"), secret(-400, -35, "tk-old")],
          owners=[user_owner("owner@contoso.com"), user_owner("partner_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                                                               user_type="Guest"),
                  sp_owner(REPORTING)],
          sp_credentials=[secret(-5, 360, "sp-backdoor")])
    b.delegated(TICKETING, "openid User.Read Mail.Read")
    b.mailbox("helpdesk@contoso.com", user=False)
    b.mailbox("billing@contoso.com", user=True)
    b.mailbox("hr-queue@contoso.com", "UserMailbox", user=False)
    b.group("tickets_group@contoso.com", ["helpdesk@contoso.com", "cfo@contoso.com"],
            kind="MailUniversalDistributionGroup", nested=["finance_team@contoso.com"], join="Open",
            managed_by=["Random Manager"], member_kinds={"cfo@contoso.com": "UserMailbox"})
    b.group("finance_team@contoso.com", ["hr-queue@contoso.com", "alice@contoso.com"],
            member_kinds={"hr-queue@contoso.com": "UserMailbox", "alice@contoso.com": "UserMailbox"})
    b.policy(TICKETING, "tickets_group@contoso.com", valid=False)
    b.policy(TICKETING, "cctr_sec_group@contoso.com", right="DenyAccess")
    for address, result in (("helpdesk@contoso.com", "Granted"), ("billing@contoso.com", "Denied"),
                            ("hr-queue@contoso.com", "Granted"), ("cfo@contoso.com", "Granted"),
                            ("ceo@contoso.com", "Granted")):
        b.access_test(TICKETING, address, result)
    b.canaries(TICKETING, ["cfo@contoso.com"], ["ceo@contoso.com"])
    b.role_assignment(TICKETING, "Ticketing-MailRead-Org", "Application Mail.Read")
    b.authorization_test(TICKETING, "cfo@contoso.com", [("Application Mail.Read", True)])
    b.authorization_test(TICKETING, "ceo@contoso.com", [("Application Mail.Read", True)])

    # Archiver: a vendor's app (no application object here) on scoped RBAC for Applications.
    b.app(ARCHIVER, "Archiver", application=False, owner_org=VENDOR_TENANT, requested=(), granted=())
    b.mailbox("archive@contoso.com", user=False)
    b.data("exchange.managementScopes").append(
        {"Name": "Archive mailboxes", "RecipientRestrictionFilter": "CustomAttribute1 -eq 'archive'"})
    b.role_assignment(ARCHIVER, "Archiver-MailRead", "Application Mail.Read", custom_scope="Archive mailboxes")
    b.authorization_test(ARCHIVER, "archive@contoso.com", [("Application Mail.Read", True)])
    b.authorization_test(ARCHIVER, "ceo@contoso.com", [("Application Mail.Read", False)])
    b.canaries(ARCHIVER, ["ceo@contoso.com"])

    # Old Fax Gateway: the registration is there, its service principal is gone.
    b.app(FAX, "Old Fax Gateway", service_principal=False, requested=("Mail.Send",))
    b.canaries(FAX, [], ["alice@contoso.com"])
    b.access_test(FAX, "alice@contoso.com", "Granted")

    # Survey Tool: its only credential expired.
    b.app(SURVEY, "Survey Tool", requested=("Mail.Read",), credentials=[secret(-400, -10, "survey")])
    b.mailbox("survey@contoso.com", user=False)
    b.group("survey_group@contoso.com", ["survey@contoso.com"])
    b.policy(SURVEY, "survey_group@contoso.com")
    b.access_test(SURVEY, "survey@contoso.com", "Granted")
    b.canaries(SURVEY, [], [])

    # The rest of the tenant, for the sweep.
    b.app(GOVERNANCE, "Identity Governance", requested=("RoleManagement.ReadWrite.Directory",),
          credentials=[], certificates=[cert(-10, 20, "gov")])
    b.app(PROVISIONING, "HR Provisioning", requested=("Directory.ReadWrite.All", "User.Read.All"))
    b.app(REPORTING, "Mail Reporting", requested=("Mail.Read",))
    # Not an integration: its expiring secret is TEN-003's to count (an integration's is CRED-002's alone).
    b.app(CALENDAR_SYNC, "Calendar Sync", requested=("User.Read.All",), credentials=[secret(-300, 12, "cal")])
    # The actual scope is derived from the sections above (tests/builders.py), per integration's queues.
    b.queues.update({TICKETING: ["helpdesk@contoso.com", "billing@contoso.com", "hr-queue@contoso.com"],
                     ARCHIVER: ["archive@contoso.com"], FAX: [], SURVEY: ["survey@contoso.com"]})
    b.scope_recipients["Archive mailboxes"] = ["archive@contoso.com"]
    b.app(BACKUP, "Legacy Backup", requested=("Exchange:full_access_as_app",))
    b.policy(BACKUP, "cctr_sec_group@contoso.com")
    b.app(MS_APP, "Microsoft first-party", application=False, owner_org=MICROSOFT_TENANT, requested=(),
          granted=("Mail.Read",))
    return b


def main() -> None:
    SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    SAMPLE.write_text(json.dumps(build().to_dict(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {SAMPLE}")


if __name__ == "__main__":
    main()
