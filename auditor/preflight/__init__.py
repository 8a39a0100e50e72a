"""`auditor preflight`: the needs of the audit checked against a tenant, and its undocumented forms observed."""
