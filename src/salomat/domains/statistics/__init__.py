"""National health indicators computed from the records (issue 20): the catalogue, the
aggregate job that fills ``indicator_value``, values, trends and targets."""
