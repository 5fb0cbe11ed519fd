"""The data principal's contact details as truConsent takes them: phone numbers in E.164 (or ten
digits, taken as Indian numbers), and how they are masked wherever they are shown again."""
from __future__ import annotations

import re

from consent.core.mailbox import mask_address

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
TEN_DIGITS = re.compile(r"^[0-9]{10}$")


def normalise_phone(raw: str | None) -> str | None:
    """E.164 as given, or 10 digits prefixed with +91; anything else is None."""
    value = (raw or "").strip()
    if E164.match(value):
        return value
    if TEN_DIGITS.match(value):
        return "+91" + value
    return None


def mask_phone(phone: str) -> str:
    """``+919876543210`` -> ``+*********210``."""
    if not phone:
        return phone
    head = "+" if phone.startswith("+") else ""
    digits = phone[len(head):]
    return head + "*" * max(len(digits) - 3, 0) + digits[-3:]


def mask_email(address: str) -> str:
    return mask_address(address or "")
