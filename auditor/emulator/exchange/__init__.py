"""The Exchange side of the tenant emulator: a WSMan/PSRP endpoint serving emulated Exchange cmdlets.

Layers, bottom up: `directory` (recipients, derived Guid/Sid, membership), `opath` (RecipientRestrictionFilter
subset), `access` (access-policy and RBAC semantics), `cmdlets` + `records` + `model` (the cmdlets as plain
records, reusable by a REST transport), then `psrp_session` (psrpcore glue), `wsman` (SOAP) and `service`.
"""

from auditor.emulator.exchange.service import ExchangeService, attach

__all__ = ["ExchangeService", "attach"]
