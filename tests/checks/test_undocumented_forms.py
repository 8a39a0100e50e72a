"""Checks reading Exchange output whose form Microsoft leaves undocumented (docs/microsoft-facts.md)."""

from __future__ import annotations

import pytest

from auditor.checks import scope
from auditor.models.findings import Status
from tests.builders import APP, run_check
from tests.checks.test_scope import NO_EXPLICIT_CANARY, canary_tenant


@pytest.mark.parametrize("value", ["Accordé", "Gewährt", "", "Granted?"])
def test_an_access_check_result_other_than_granted_or_denied_is_an_error_not_a_pass(value: str) -> None:
    # A localized session prints the value in its language (posted output shows "Accordé"): read as "not
    # Granted", a reachable canary would PASS. Like any malformed row, it makes the tests unreadable: ERROR.
    b = canary_tenant()
    for row in b.data("exchange.accessTests"):
        if row["Identity"] == "fail-granted@contoso.com":
            row["AccessCheckResult"] = value
    b.canaries(APP, ["fail-granted@contoso.com", "pass-denied@contoso.com"])
    out = run_check(scope.canaries_unreachable, b, NO_EXPLICIT_CANARY)
    assert out.by_resource()["fail-granted@contoso.com"] is Status.ERROR
    assert f"AccessCheckResult {value!r} is neither Granted nor Denied" in out.findings[0].message
    assert not [f for f in out.findings if f.status is Status.PASS]


def test_granted_and_denied_are_read_whatever_their_case() -> None:
    b = canary_tenant()
    b.access_test(APP, "fail-granted@contoso.com", "GRANTED")
    b.access_test(APP, "pass-denied@contoso.com", "denied")
    b.canaries(APP, ["fail-granted@contoso.com", "pass-denied@contoso.com"])
    out = run_check(scope.canaries_unreachable, b, NO_EXPLICIT_CANARY)
    assert out.by_resource() == {"fail-granted@contoso.com": Status.FAIL, "pass-denied@contoso.com": Status.PASS}
