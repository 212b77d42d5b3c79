"""Helpers the tests share: servers, browsers, tokens, data paths and planted data (no tests here)."""
