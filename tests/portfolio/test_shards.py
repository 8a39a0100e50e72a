"""`auditor audit --portfolio FILE --shard I/N` and `auditor merge-portfolio`: one portfolio over N machines.

The merge of a portfolio's shards gives the rows, verdicts and exit code one machine's run gives (against the
emulator); the refusals (other file, other split, a shard twice, a shard missing) use tenants that cannot start,
which cost no network."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.cli import main
from auditor.demo import DEMO_TENANT, baseline_toml, running_emulator
from auditor.portfolio import Portfolio, PortfolioTenant, _folder, load_portfolio, shard_tenants
from auditor.shards import Shard, parse_shard, shard_of
from tests.portfolio.test_portfolio import CONTACT_CENTER_ONLY, INTENT, Links


def cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code)


def table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "portfolio.csv", dtype=str, keep_default_na=False)


def portfolio_of(names: list[str]) -> Portfolio:
    return Portfolio(Path("p.toml"), "", 4, tuple(PortfolioTenant(n, _folder(n), Path("b.toml")) for n in names))


# -- the partition ---------------------------------------------------------------------------------------------

names = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 .", min_size=1, max_size=12)
                 .filter(lambda n: _folder(n) != "tenant"), min_size=0, max_size=30,
                 unique_by=_folder)


@settings(max_examples=60, deadline=None)
@given(names=names, count=st.integers(1, 40))
def test_every_tenant_is_in_exactly_one_shard(names, count):
    portfolio = portfolio_of(names)
    shards = [shard_tenants(portfolio, Shard(i, count)) for i in range(1, count + 1)]
    flat = [t.name for shard in shards for t in shard]
    assert sorted(flat) == sorted(names) and len(flat) == len(set(flat))
    for shard in shards:  # each shard keeps the file's order
        assert [t.name for t in shard] == [n for n in names if n in {t.name for t in shard}]


@settings(max_examples=60, deadline=None)
@given(names=names, new=st.text(alphabet="xyz!", min_size=1, max_size=6), count=st.integers(1, 12),
       at=st.integers(0, 30))
def test_adding_a_tenant_moves_no_other_and_one_more_shard_only_fills_the_new_one(names, new, count, at):
    before = {n: shard_of(_folder(n), count) for n in names}
    grown = [*names[:at], f"new {new}", *names[at:]]
    assert {n: shard_of(_folder(n), count) for n in grown if n in before} == before
    wider = {n: shard_of(_folder(n), count + 1) for n in names}
    assert all(wider[n] in (before[n], count + 1) for n in names)


def test_shards_are_balanced_on_a_large_portfolio():
    folders = [f"customer-{i:04d}" for i in range(2000)]
    sizes = [sum(1 for f in folders if shard_of(f, 8) == i) for i in range(1, 9)]
    assert min(sizes) >= 200 and max(sizes) <= 300, sizes  # 250 each on average


@pytest.mark.parametrize("spec, message", [
    ("0/3", "I must be 1 to 3"), ("4/3", "I must be 1 to 3"), ("1/0", "must be 1 to 1000"),
    ("2", "give I/N"), ("a/b", "give I/N"), ("-1/3", "give I/N"), ("1/3/4", "give I/N"), ("1/1001", "1 to 1000"),
])
def test_a_bad_shard_is_one_usage_line(tmp_path, capsys, spec, message):
    (tmp_path / "p.toml").write_text('[[tenant]]\nname = "A"\nbaseline = "a.toml"\n')
    code = cli("audit", "--portfolio", str(tmp_path / "p.toml"), "--shard", spec, "--out", str(tmp_path / "o"),
               "--no-history")
    err = capsys.readouterr().err
    assert code == 2 and message in err and "--shard" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_shard_needs_a_portfolio(tmp_path, capsys):
    assert cli("audit", "--baseline", "b.toml", "--shard", "1/2", "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert "--shard splits a portfolio: it needs --portfolio FILE" in err and len(err.strip().splitlines()) == 1
    assert parse_shard(" 2 / 5 ") == Shard(2, 5)


# -- shards of tenants that cannot start (no network) -------------------------------------------------------

BROKEN = ("[tenant]\nid = '11111111-2222-3333-4444-555555555555'\n"
          "[auth]\nclient_id = '11111111-2222-3333-4444-555555555555'\n[exchange]\ntransport = 'none'\n")
OFFLINE_NAMES = ["Contoso", "Fabrikam", "Northwind", "Adatum", "Litware"]


def offline_portfolio(folder: Path, names: list[str] = OFFLINE_NAMES, title: str = "Offline") -> Path:
    """Tenants whose secret variable is not set: each is 'not audited' at once, no network."""
    folder.mkdir(exist_ok=True)
    (folder / "broken.toml").write_text(BROKEN)
    path = folder / "portfolio.toml"
    path.write_text(f'[portfolio]\ntitle = "{title}"\n' + "".join(
        f'\n[[tenant]]\nname = "{n}"\nbaseline = "broken.toml"\nsecret_env = "UNSET_{i}_SECRET"\n'
        for i, n in enumerate(names)))
    return path


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """The offline portfolio in one run and in 7 shards (more shards than tenants: some are empty)."""
    tmp = tmp_path_factory.mktemp("offline")
    path = offline_portfolio(tmp)
    codes = {"whole": cli("audit", "--portfolio", str(path), "--out", str(tmp / "whole"), "--no-history", "-q")}
    for i in range(1, 8):
        codes[i] = cli("audit", "--portfolio", str(path), "--shard", f"{i}/7", "--out", str(tmp / f"s{i}"),
                       "--no-history", "-q")
    return tmp, path, codes


def test_an_empty_shard_writes_an_honest_empty_summary_and_exits_0(offline):
    tmp, path, codes = offline
    portfolio = load_portfolio(path)
    empty = [i for i in range(1, 8) if not shard_tenants(portfolio, Shard(i, 7))]
    assert empty, "the fixture needs more shards than it fills"
    for i in empty:
        assert codes[i] == 0
        assert table(tmp / f"s{i}").empty and list(table(tmp / f"s{i}").columns)[:3] == ["tenant", "tenant_id",
                                                                                         "verdict"]
        html = (tmp / f"s{i}" / "portfolio.html").read_text()
        assert f"Offline (shard {i} of 7)" in html and "0 tenants" in html
        record = json.loads((tmp / f"s{i}" / "portfolio.json").read_text())
        assert record["shard"] == {"index": i, "count": 7} and record["covered"] == [] and record["rows"] == []
    for i in set(range(1, 8)) - set(empty):
        assert codes[i] == 3  # its tenants could not be audited, as in a one-machine run


def test_a_shard_records_the_file_the_split_and_its_tenants(offline):
    import hashlib

    tmp, path, _ = offline
    covered = []
    for i in range(1, 8):
        record = json.loads((tmp / f"s{i}" / "portfolio.json").read_text())
        assert record["portfolio"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert record["portfolio"]["file"] == "portfolio.toml"
        assert [t["name"] for t in record["portfolio"]["tenants"]] == OFFLINE_NAMES
        assert record["covered"] == [t["name"] for t in record["portfolio"]["tenants"] if t["shard"] == i]
        assert record["covered"] == list(table(tmp / f"s{i}")["tenant"])
        covered += record["covered"]
    assert sorted(covered) == sorted(OFFLINE_NAMES)


def test_merging_the_offline_shards_gives_the_one_machine_summary(offline, capsys):
    tmp, _, codes = offline
    capsys.readouterr()
    code = cli("merge-portfolio", "--out", str(tmp / "merged"), *(str(tmp / f"s{i}") for i in (3, 1, 7, 2, 5, 4, 6)))
    assert code == codes["whole"] == 3
    assert table(tmp / "merged").equals(table(tmp / "whole"))
    assert list(table(tmp / "merged")["tenant"]) == OFFLINE_NAMES
    assert "<h1>Offline</h1>" in (tmp / "merged" / "portfolio.html").read_text()
    record = json.loads((tmp / "merged" / "portfolio.json").read_text())
    assert record["merged"] == {"count": 7, "shards": list(range(1, 8)), "missing": []} and record["shard"] is None


def _one_line_refusal(capsys, code: int, *needles: str) -> None:
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


def test_a_missing_shard_is_refused_by_name_with_its_tenants(offline, capsys):
    tmp, path, _ = offline
    portfolio = load_portfolio(path)
    lost = next(i for i in range(1, 8) if shard_tenants(portfolio, Shard(i, 7)))
    names = [t.name for t in shard_tenants(portfolio, Shard(lost, 7))]
    given = [str(tmp / f"s{i}") for i in range(1, 8) if i != lost]
    capsys.readouterr()
    code = cli("merge-portfolio", "--out", str(tmp / "m-missing"), *given)
    _one_line_refusal(capsys, code, f"missing shard {lost}/7 ({', '.join(names)})", "--allow-missing")
    assert not (tmp / "m-missing").exists()

    assert cli("merge-portfolio", "--allow-missing", "--out", str(tmp / "m-allowed"), *given) == 3
    err = capsys.readouterr().err
    assert f"auditor: shard {lost}/7 is missing: not audited: {', '.join(names)}" in err
    rows = {r["tenant"]: r for r in table(tmp / "m-allowed").to_dict("records")}
    assert list(rows) == OFFLINE_NAMES
    for name in names:
        assert rows[name]["verdict"] == "Not audited" and f"shard {lost}/7 is missing" in rows[name]["error"]
    assert f"shard {lost}/7 is missing from the merge" in (tmp / "m-allowed" / "portfolio.html").read_text()


def test_shards_of_another_file_another_split_or_twice_are_refused(offline, tmp_path, capsys):
    tmp, path, _ = offline
    other = offline_portfolio(tmp_path / "other", title="Other")
    assert cli("audit", "--portfolio", str(other), "--shard", "2/7", "--out", str(tmp_path / "o2"), "--no-history",
               "-q") in (0, 3)
    assert cli("audit", "--portfolio", str(path), "--shard", "2/3", "--out", str(tmp_path / "t2"), "--no-history",
               "-q") in (0, 3)
    capsys.readouterr()
    out = str(tmp_path / "m")
    _one_line_refusal(capsys, cli("merge-portfolio", "--out", out, str(tmp / "s1"), str(tmp_path / "o2")),
                      "shards of different portfolio files")
    _one_line_refusal(capsys, cli("merge-portfolio", "--out", out, str(tmp / "s1"), str(tmp_path / "t2")),
                      "shards of different splits", "1/7", "2/3")
    _one_line_refusal(capsys, cli("merge-portfolio", "--out", out, str(tmp / "s1"), str(tmp / "s1")),
                      "overlapping shards", "both shard 1/7")
    _one_line_refusal(capsys, cli("merge-portfolio", "--out", out, str(tmp / "s1"), str(tmp_path)),
                      "no portfolio.json")
    _one_line_refusal(capsys, cli("merge-portfolio", "--out", str(tmp / "s1"), *(str(tmp / f"s{i}")
                                                                                  for i in range(1, 8))),
                      "apart from the shards")
    assert not (tmp_path / "m").exists()


def test_a_tampered_shard_record_is_refused(offline, tmp_path, capsys):
    import shutil

    tmp, _, _ = offline
    full = next(i for i in range(1, 8) if json.loads((tmp / f"s{i}" / "portfolio.json").read_text())["rows"])
    shards = []
    for i in range(1, 8):
        shutil.copytree(tmp / f"s{i}", tmp_path / f"s{i}")
        shards.append(str(tmp_path / f"s{i}"))
    record_path = tmp_path / f"s{full}" / "portfolio.json"
    record = json.loads(record_path.read_text())
    record["rows"][0]["folder"] = "../../etc"
    record_path.write_text(json.dumps(record))
    capsys.readouterr()
    _one_line_refusal(capsys, cli("merge-portfolio", "--out", str(tmp_path / "m"), *shards), "not a shard's record")
    record["rows"] = []
    record_path.write_text(json.dumps(record))
    _one_line_refusal(capsys, cli("merge-portfolio", "--out", str(tmp_path / "m"), *shards),
                      "does not hold the tenants")


# -- against the emulator: the merge equals the one-machine run ------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """Contoso (the demo intent: not compliant), Contoso Contact Center and Northwind (compliant), once in one
    run and once in 3 shards (shard 1: Contoso and the contact center, 2: Northwind, 3: none)."""
    tmp = tmp_path_factory.mktemp("live")
    tenant = json.loads(DEMO_TENANT.read_text())
    mp = pytest.MonkeyPatch()
    mp.setenv("AUDITOR_CLIENT_SECRET", tenant["emulator"]["clients"][0]["secret"])
    mp.setenv("AUDITOR_PSRP_PASSWORD", tenant["emulator"]["jumpHost"]["password"])
    mp.delenv("AZURE_CLIENT_SECRET", raising=False)
    codes = {}
    try:
        with running_emulator(DEMO_TENANT) as server:
            aimed = baseline_toml(server)
            (tmp / "contoso.toml").write_text(aimed + INTENT)
            (tmp / "compliant.toml").write_text(aimed + CONTACT_CENTER_ONLY)
            path = tmp / "portfolio.toml"
            path.write_text('[portfolio]\ntitle = "Managed"\nconcurrency = 3\n'
                            '[[tenant]]\nname = "Contoso"\nbaseline = "contoso.toml"\n'
                            '[[tenant]]\nname = "Northwind"\nbaseline = "compliant.toml"\n'
                            '[[tenant]]\nname = "Contoso Contact Center"\nbaseline = "compliant.toml"\n')
            codes["whole"] = cli("audit", "--portfolio", str(path), "--out", str(tmp / "whole"), "--no-history",
                                 "-q")
            for i in (1, 2, 3):
                codes[i] = cli("audit", "--portfolio", str(path), "--shard", f"{i}/3", "--out", str(tmp / f"s{i}"),
                               "--no-history", "-q")
    finally:
        mp.undo()
    codes["merged"] = cli("merge-portfolio", "--out", str(tmp / "merged"), *(str(tmp / f"s{i}") for i in (1, 2, 3)))
    return tmp, codes


def test_the_merged_shards_give_the_rows_verdicts_and_exit_code_of_one_run(live):
    tmp, codes = live
    assert [len(table(tmp / f"s{i}")) for i in (1, 2, 3)] == [2, 1, 0]
    assert codes == {"whole": 1, 1: 1, 2: 0, 3: 0, "merged": 1}
    whole, merged = table(tmp / "whole"), table(tmp / "merged")
    assert list(merged["tenant"]) == ["Contoso", "Northwind", "Contoso Contact Center"]
    assert list(merged["verdict"]) == ["Not compliant", "Compliant", "Compliant"]
    # The same rows but for when each tenant was read (the shards ran after the one-machine run).
    assert merged.drop(columns="collected_at").equals(whole.drop(columns="collected_at"))
    assert (merged["collected_at"] != "").all()


def test_the_merged_folder_holds_each_tenants_reports_linked_from_the_summary(live):
    tmp, _ = live
    page = Links()
    page.feed((tmp / "merged" / "portfolio.html").read_text())
    assert page.hrefs == ["contoso/report.html", "northwind/report.html", "contoso-contact-center/report.html"]
    for href in page.hrefs:
        folder = (tmp / "merged" / href).parent
        assert (folder / "report.html").read_bytes() == (tmp / f"s{1 if 'contoso' in href else 2}" / href).read_bytes()
        assert json.loads((folder / "manifest.json").read_text())["files"]
        assert json.loads((folder / "findings.json").read_text())["findings"]
    assert "<h1>Managed</h1>" in (tmp / "merged" / "portfolio.html").read_text()
    assert "Managed (shard 1 of 3)" in (tmp / "s1" / "portfolio.html").read_text()


def test_a_run_that_dies_leaves_no_record_of_the_run_before(offline, tmp_path, monkeypatch):
    """portfolio.json marks a finished run: a shard that fails midway must not leave last night's for a merge."""
    import shutil

    import auditor.portfolio

    tmp, path, _ = offline
    full = next(i for i in range(1, 8) if json.loads((tmp / f"s{i}" / "portfolio.json").read_text())["rows"])
    shutil.copytree(tmp / f"s{full}", tmp_path / "shard")

    def crash(tenant, options):
        raise RuntimeError("a bug")

    monkeypatch.setattr(auditor.portfolio, "audit_tenant", crash)
    assert cli("audit", "--portfolio", str(path), "--shard", f"{full}/7", "--out", str(tmp_path / "shard"),
               "--no-history", "-q") == 4
    assert not (tmp_path / "shard" / "portfolio.json").exists()


def test_the_merge_copies_only_the_auditors_own_files_and_no_link(live, tmp_path):
    import shutil

    tmp, _ = live
    for i in (1, 2, 3):
        shutil.copytree(tmp / f"s{i}", tmp_path / f"s{i}")
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("not a report")
    (tmp_path / "s2" / "northwind" / "summary.md").unlink()
    (tmp_path / "s2" / "northwind" / "summary.md").symlink_to(secret)
    (tmp_path / "s2" / "northwind" / "notes.txt").write_text("not the auditor's")
    assert cli("merge-portfolio", "--out", str(tmp_path / "m"), *(str(tmp_path / f"s{i}") for i in (1, 2, 3))) == 1
    copied = {p.name for p in (tmp_path / "m" / "northwind").iterdir()}
    assert "report.html" in copied and "summary.md" not in copied and "notes.txt" not in copied
