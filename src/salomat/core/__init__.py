"""Platform kernel. Knows no domain: config, db, errors, auth, audit, events, i18n."""
