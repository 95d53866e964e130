"""Tests of the account-group API client (connector.integrations)."""
