"""`auditor audit --portfolio`: three tenants against the emulator, one whose sign-in is refused."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from auditor.cli import main
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, baseline_toml, running_emulator

INTENT = re.sub(r"(?ms)^\[tenant\].*?(?=^\[)", "", DEMO_BASELINE.read_text())
CONTACT_CENTER_ONLY = INTENT.split("# Everything that can drift, has.")[0] + "\n[sweep]\nenabled = false\n"


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.hrefs += [v for k, v in attrs if k == "href" and v]


@pytest.fixture(scope="module")
def portfolio_run(tmp_path_factory):
    """Contoso (the demo intent), Contoso Contact Center (one compliant integration) and Fabrikam, whose secret
    variable holds a wrong secret: the emulator answers AADSTS7000215 as Entra would."""
    tmp = tmp_path_factory.mktemp("portfolio")
    tenant = json.loads(DEMO_TENANT.read_text())
    env = {"AUDITOR_CLIENT_SECRET": tenant["emulator"]["clients"][0]["secret"],
           "AUDITOR_PSRP_PASSWORD": tenant["emulator"]["jumpHost"]["password"],
           "FABRIKAM_SECRET": "not-the-secret-at-all"}
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    mp.delenv("AZURE_CLIENT_SECRET", raising=False)
    try:
        with running_emulator(DEMO_TENANT) as server:
            aimed = baseline_toml(server)
            (tmp / "contoso.toml").write_text(aimed + INTENT)
            (tmp / "contact-center.toml").write_text(aimed + CONTACT_CENTER_ONLY)
            (tmp / "fabrikam.toml").write_text(aimed + INTENT)
            (tmp / "portfolio.toml").write_text(
                '[portfolio]\ntitle = "Managed <tenants>"\nconcurrency = 3\n\n'
                '[[tenant]]\nname = "Contoso"\nbaseline = "contoso.toml"\n\n'
                '[[tenant]]\nname = "Fabrikam"\nbaseline = "fabrikam.toml"\nsecret_env = "FABRIKAM_SECRET"\n\n'
                '[[tenant]]\nname = "Contoso Contact Center"\nbaseline = "contact-center.toml"\n')
            with pytest.raises(SystemExit) as exc:
                main(["audit", "--portfolio", str(tmp / "portfolio.toml"), "--out", str(tmp / "out"),
                      "--history", str(tmp / "history.sqlite"), "--quiet"])
    finally:
        mp.undo()
    return int(exc.value.code), tmp / "out", tmp


def test_one_refused_tenant_gives_exit_3_and_the_others_complete_reports(portfolio_run, capsys):
    code, out, _ = portfolio_run
    assert code == 3
    for folder in ("contoso", "contoso-contact-center"):
        for name in ("snapshot.json", "findings.json", "findings.csv", "report.html", "junit.xml"):
            assert (out / folder / name).stat().st_size > 0, (folder, name)
        findings = json.loads((out / folder / "findings.json").read_text())["findings"]
        assert findings and not [f for f in findings if f["status"] == "ERROR"], folder
    assert not (out / "fabrikam").exists()


def test_the_summary_page_and_csv_compare_the_tenants(portfolio_run):
    _, out, _ = portfolio_run
    table = pd.read_csv(out / "portfolio.csv", dtype=str, keep_default_na=False)
    assert list(table["tenant"]) == ["Contoso", "Fabrikam", "Contoso Contact Center"]
    rows = {r["tenant"]: r for r in table.to_dict("records")}
    assert rows["Contoso"]["verdict"] == "Not compliant" and int(rows["Contoso"]["critical"]) > 0
    assert rows["Contoso Contact Center"]["verdict"] == "Compliant" and rows["Contoso Contact Center"]["FAIL"] == "0"
    fabrikam = rows["Fabrikam"]
    assert fabrikam["verdict"] == "Not audited" and fabrikam["exit_code"] == "3" and fabrikam["report"] == ""
    assert "7000215" in fabrikam["error"] and "not-the-secret-at-all" not in fabrikam["error"]
    contoso = json.loads((out / "contoso" / "findings.json").read_text())
    assert int(rows["Contoso"]["FAIL"]) == contoso["summary"]["by_status"]["FAIL"]

    html = (out / "portfolio.html").read_text()
    page = Links()
    page.feed(html)
    assert page.hrefs == ["contoso/report.html", "contoso-contact-center/report.html"]
    assert "script" not in page.tags and "img" not in page.tags
    assert "Managed &lt;tenants&gt;" in html and "<tenants>" not in html
    assert "7000215" in html and "not-the-secret-at-all" not in html


def test_a_tenant_that_cannot_start_is_one_clear_line_on_stderr(tmp_path, capsys):
    tmp = tmp_path
    guid = "11111111-2222-3333-4444-555555555555"
    (tmp / "broken.toml").write_text(f"[tenant]\nid = '{guid}'\n[auth]\nclient_id = '{guid}'\n"
                                     "[exchange]\ntransport = 'none'\n")
    (tmp / "p2.toml").write_text('[[tenant]]\nname = "Broken"\nbaseline = "broken.toml"\nsecret_env = "NOPE_UNSET"\n')
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--portfolio", str(tmp / "p2.toml"), "--out", str(tmp / "out2"), "--no-history", "--quiet"])
    err = capsys.readouterr().err
    assert exc.value.code == 3
    assert err.strip().splitlines() == ["auditor: Broken: not audited: NOPE_UNSET: not set (secret_env of tenant "
                                        "'Broken')"]
    assert (tmp / "out2" / "portfolio.html").exists()


def test_history_records_each_audited_tenant(portfolio_run):
    _, _, tmp = portfolio_run
    from auditor.history.store import HistoryStore

    runs = HistoryStore(tmp / "history.sqlite", create=False).runs(limit=10)
    assert sorted(r.baseline_file for r in runs) == ["contact-center.toml", "contoso.toml"]


@pytest.mark.parametrize("text, message", [
    ("", "tenant: list at least one tenant"),
    ('[[tenant]]\nname = "A"\n', "tenant[0].baseline: is required"),
    ('[[tenant]]\nname = "A"\nbaseline = "a.toml"\ncolour = 1\n', "tenant[0].colour: unknown key"),
    ('[portfolio]\nconcurrency = 99\n[[tenant]]\nname = "A"\nbaseline = "a.toml"\n', "concurrency: must be at most 16"),
    ('[[tenant]]\nname = "A b"\nbaseline = "a.toml"\n[[tenant]]\nname = "a-B"\nbaseline = "b.toml"\n',
     "same report folder (a-b)"),
])
def test_a_broken_portfolio_file_is_a_configuration_error(tmp_path, capsys, text, message):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--portfolio", str(path), "--out", str(tmp_path / "out"), "--no-history"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_baseline_and_portfolio_together_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--portfolio", "p.toml", "--baseline", "b.toml", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "choose one" in capsys.readouterr().err


def test_portfolio_paths_are_relative_to_the_portfolio_file(tmp_path):
    from auditor.portfolio import load_portfolio

    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "p.toml"
    path.write_text('[[tenant]]\nname = "Contoso Ltd."\nbaseline = "b/contoso.toml"\n')
    (tenant,) = load_portfolio(path).tenants
    assert tenant.baseline == tmp_path / "sub" / "b" / "contoso.toml" and tenant.folder == "contoso-ltd"
    assert Path(tenant.folder).name == tenant.folder


def test_the_portfolio_honours_insecure_skip_tls_verify_and_history_snapshot(tmp_path, monkeypatch, capsys):
    """A portfolio run is an `audit` run per tenant: the flags a single audit honours hold for every tenant.
    Here the baseline trusts a CA that did not sign the emulator's certificate (as behind a TLS-inspecting
    proxy): refused without the flag, audited with it, and the raw snapshot kept in the history on request."""
    from auditor.emulator.ca import generate_certificates
    from auditor.history.store import HistoryStore

    tenant = json.loads(DEMO_TENANT.read_text())
    monkeypatch.setenv("AUDITOR_CLIENT_SECRET", tenant["emulator"]["clients"][0]["secret"])
    monkeypatch.setenv("AUDITOR_PSRP_PASSWORD", tenant["emulator"]["jumpHost"]["password"])
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    other_ca = generate_certificates(tmp_path / "other").ca_path
    with running_emulator(DEMO_TENANT) as server:
        (tmp_path / "contoso.toml").write_text(baseline_toml(server).replace(server.ca_path, str(other_ca))
                                               + CONTACT_CENTER_ONLY)
        (tmp_path / "p.toml").write_text('[[tenant]]\nname = "Contoso"\nbaseline = "contoso.toml"\n')

        def audit(*flags: str) -> int:
            with pytest.raises(SystemExit) as exc:
                main(["audit", "--portfolio", str(tmp_path / "p.toml"), "--out", str(tmp_path / "out"),
                      "--history", str(tmp_path / "h.sqlite"), "--quiet", *flags])
            return int(exc.value.code)

        assert audit() == 3
        assert "TLS verification" in capsys.readouterr().err
        assert audit("--insecure-skip-tls-verify", "--history-snapshot") == 0
    err = capsys.readouterr().err
    assert "auditor: warning: TLS verification is disabled (--insecure-skip-tls-verify)" in err
    findings = json.loads((tmp_path / "out" / "contoso" / "findings.json").read_text())
    assert findings["run"]["collection"]["tls_verify"] is False
    store = HistoryStore(tmp_path / "h.sqlite", create=False)
    (run,) = store.runs(limit=10)
    kept = store.snapshot(run.id)
    assert kept is not None and json.loads(kept)["tenant"]["id"] == tenant["tenant"]["id"]
