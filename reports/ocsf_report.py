"""findings.ocsf.json: the findings as OCSF Compliance Finding events (class_uid 2003) for a SIEM.

Built with py-ocsf-models (the models Prowler publishes its OCSF output with) and validated by them: every event
is a ComplianceFinding model before it is written, so a field of the wrong type fails here, not in the SIEM.
Prowler's conventions: a JSON array of events; `status_code` carries the tool's own verdict (PASS, FAIL, ERROR,
SKIP, WAIVED) and `status_detail` its message; `metadata.event_code` is the check id; `finding_info.uid` is stable
across runs (tenant, check, integration, resource), so a SIEM can follow one finding over time.

Mappings: compliance.status_id PASS -> Pass, FAIL -> Fail, WAIVED -> Fail with the event's status_id Suppressed,
ERROR -> Unknown (the check could not judge), SKIP -> Other; severity names map one to one (info ->
Informational). `time` is collected_at in milliseconds since the epoch (OCSF's timestamp unit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from py_ocsf_models.events.base_event import SeverityID, StatusID
from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
from py_ocsf_models.objects.compliance import Compliance
from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.metadata import Metadata
from py_ocsf_models.objects.product import Product
from py_ocsf_models.objects.remediation import Remediation
from py_ocsf_models.objects.resource_details import ResourceDetails

from auditor import __version__
from auditor.models.findings import Finding, FindingsDocument, Severity, Status
from auditor.models.timeutil import parse_datetime
from auditor.reports.file_names import FILE_NAMES
from auditor.reports.files import write_atomic

PRODUCT = "Mailbox Access Auditor"
SEVERITY = {Severity.CRITICAL: SeverityID.Critical, Severity.HIGH: SeverityID.High, Severity.MEDIUM: SeverityID.Medium,
            Severity.LOW: SeverityID.Low, Severity.INFO: SeverityID.Informational}
COMPLIANCE = {Status.PASS: ComplianceStatusID.Pass, Status.FAIL: ComplianceStatusID.Fail,
              Status.WAIVED: ComplianceStatusID.Fail, Status.ERROR: ComplianceStatusID.Unknown,
              Status.SKIP: ComplianceStatusID.Other}


def finding_uid(doc: FindingsDocument, f: Finding) -> str:
    return f"mailbox-access-auditor-{doc.run.tenant_id}-{f.check_id}-{f.integration}-{f.resource}"


def event(doc: FindingsDocument, f: Finding, time_ms: int) -> ComplianceFinding:
    run = doc.run
    remediation = "\n\n".join(part for part in (f.remediation, f.fix) if part)
    return ComplianceFinding(
        class_name="Compliance Finding", activity_id=ActivityID.Create, activity_name="Create",
        type_uid=ComplianceFindingTypeID.Create,
        type_name="Compliance Finding: Create", time=time_ms, severity_id=SEVERITY[f.severity],
        severity=SeverityID(SEVERITY[f.severity]).name, status_id=StatusID.Suppressed if f.status is Status.WAIVED
        else StatusID.New, status=("Suppressed" if f.status is Status.WAIVED else "New"),
        status_code=f.status.value, status_detail=f.message, message=f"{f.title}: {f.message}",
        metadata=Metadata(event_code=f.check_id, tenant_uid=run.tenant_id,
                          product=Product(name=PRODUCT, vendor_name=PRODUCT, version=__version__),
                          labels=[f.integration] if f.integration else None),
        finding_info=FindingInformation(uid=finding_uid(doc, f), title=f.title, desc=f.message,
                                        created_time=time_ms, types=["Microsoft 365 mailbox access"]),
        compliance=Compliance(control=f.check_id, desc=f.title, status_id=COMPLIANCE[f.status],
                              standards=[f"baseline {run.baseline_file} ({run.baseline_sha256[:12]})"]),
        remediation=Remediation(desc=remediation or "None.", references=list(f.references) or None),
        resources=[ResourceDetails(uid=f.resource, name=f.resource, type=_resource_type(f),
                                   group=None, labels=[f.integration] if f.integration else None,
                                   data={"evidence": f.evidence, "integration": f.integration,
                                         "waiver": f.waiver})],
        # The Compliance Finding class has no `cloud` attribute: the tenant goes in metadata.tenant_uid and here.
        unmapped={"tenant_id": run.tenant_id, "tenant_name": run.tenant_name, "tenant_domain": run.tenant_domain,
                  "collected_at": run.collected_at},
    )


def _resource_type(f: Finding) -> str:
    resource = f.resource.lower()
    if "@" in resource:
        return "Mailbox or group"
    return "Application" if f.check_id.startswith(("APP", "PERM", "CONSENT", "CRED", "OWN", "TEN", "SCOPE")) else ""


def events(doc: FindingsDocument) -> list[dict[str, Any]]:
    time_ms = int(parse_datetime(doc.run.collected_at).timestamp() * 1000)
    return [event(doc, f, time_ms).model_dump(mode="json", exclude_none=True) for f in doc.findings]


def render(doc: FindingsDocument) -> str:
    return json.dumps(events(doc), indent=2, ensure_ascii=False) + "\n"


def write(doc: FindingsDocument, out_dir: Path) -> Path:
    path = out_dir / FILE_NAMES["ocsf"]
    write_atomic(path, render(doc))
    return path
