"""Domains: each is models, schemas, service, api, web, cli, templates."""
