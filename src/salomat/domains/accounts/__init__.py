"""Accounts: users, login sessions, throttling, break-the-glass grants."""
