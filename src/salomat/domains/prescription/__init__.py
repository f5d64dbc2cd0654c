"""E-prescriptions with reimbursement: formulary, prescribing, dispensing, claims to the fund."""
