"""The JSON API on a real server: roles, accounts, hardening, the contract (schemathesis), PostgreSQL."""
