"""Screening and check-up programmes, and the disease-management programmes (DMP) of
primary care: hypertension, type 2 diabetes, chronic heart failure (docs/screening.md)."""
