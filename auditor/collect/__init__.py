"""Collectors: read the tenant (Graph over msal + requests, Exchange over pypsrp) into snapshot sections."""
