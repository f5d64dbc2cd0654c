"""The auditor's filtered reading of the audit trail."""

__all__: list[str] = []
