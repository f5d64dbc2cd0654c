"""Phone numbers as the registry stores them (people, facilities, practitioners): E.164."""

from __future__ import annotations

import phonenumbers

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid

__all__ = ["normalise_phone"]


def normalise_phone(value: str | None, field: str = "phone") -> str | None:
    """E.164 (+998901234567); a number without a country code is read as the country's."""
    if not value:
        return None
    region = get_settings().country
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        shown = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        raise Invalid.fields(
            [
                FieldError(
                    field, N_("not a valid phone number (e.g. %(example)s)"), {"example": shown}
                )
            ]
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
