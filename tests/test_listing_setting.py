"""`[exchange] listing`: partitioned by default, plain on request, anything else refused in one line."""

from __future__ import annotations

import pytest

from auditor.errors import ConfigError
from auditor.models.baseline import MailboxListing, parse_baseline


def test_the_listing_is_partitioned_unless_the_baseline_says_plain() -> None:
    assert parse_baseline("").exchange.listing is MailboxListing.PARTITIONED
    assert parse_baseline('[exchange]\nlisting = "plain"\n').exchange.listing is MailboxListing.PLAIN


def test_an_unknown_listing_is_a_configuration_error_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"listing.*'sharded' is not one of plain, partitioned"):
        parse_baseline('[exchange]\nlisting = "sharded"\n', origin="b.toml")
