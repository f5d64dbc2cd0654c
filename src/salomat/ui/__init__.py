"""HTML shell: base template, static assets, template loader, navigation."""
