"""The services this stand-in knows, and the data categories and types each needs.

Attestr's documentation names one service code (``BANK_ACC``, bank account verification, whose
sample consent carries ``personal_information`` [name, father_name] and ``financial``
[bank_account, ifsc]) and publishes the data categories and types (``personal_information``,
``identity``, ``asset_identity``, ...). The other codes below are this service's, built from those
published data types. A client may be provisioned with any code; the data-categories API answers
an empty list for a code not in this catalogue.

A registered consent's ``consentDataCategories`` must be categories of its services, each with
data types of that category (:func:`not_needed`): anything else is refused (400 4001 naming the
field), as a code outside the catalogue has no categories.
"""
from __future__ import annotations

import re

CODE_RE = re.compile(r"^[A-Z0-9_]{1,64}$")

CATALOGUE: dict[str, dict[str, list[str]]] = {
    "BANK_ACC": {"personal_information": ["name", "father_name"],
                 "financial": ["bank_account", "ifsc"]},
    "PAN": {"identity": ["pan"], "personal_information": ["name", "dob"]},
    "VOTER_ID": {"identity": ["voter_id"],
                 "personal_information": ["name", "father_name", "gender", "dob", "address"]},
    "DRIVING_LICENSE": {"identity": ["drivers_license"],
                        "personal_information": ["name", "dob", "address"]},
    "PASSPORT": {"identity": ["passport"],
                 "personal_information": ["name", "dob", "gender", "nationality"]},
    "VEHICLE_RC": {"asset_identity": ["vehicle_registration"],
                   "personal_information": ["name", "address"]},
}


def categories(code: str) -> list[dict]:
    """``[{category, values}]`` a service needs (empty for a code outside the catalogue)."""
    return [{"category": c, "values": list(v)} for c, v in CATALOGUE.get(code, {}).items()]


def merged(codes: list[str]) -> list[dict]:
    """The categories of several services, each category once, its types in first-seen order."""
    out: dict[str, list[str]] = {}
    for code in codes:
        for category, values in CATALOGUE.get(code, {}).items():
            bucket = out.setdefault(category, [])
            bucket.extend(v for v in values if v not in bucket)
    return [{"category": c, "values": v} for c, v in out.items()]


def not_needed(codes: list[str], categories: list[dict]) -> list[str]:
    """What ``consentDataCategories`` names that the services ``codes`` do not need, one line
    per field (``consentDataCategories.<i>.category`` or ``.values.<j>``); empty when all is
    needed."""
    needed = {c["category"]: set(c["values"]) for c in merged(codes)}
    services = ", ".join(codes)
    problems = []
    for i, item in enumerate(categories):
        category = item["category"]
        if category not in needed:
            problems.append(f"consentDataCategories.{i}.category: {category!r} is not a data "
                            f"category of the services of this consent ({services})")
            continue
        for j, value in enumerate(item["values"]):
            if value not in needed[category]:
                problems.append(f"consentDataCategories.{i}.values.{j}: {value!r} is not a data "
                                f"type of {category} for the services of this consent "
                                f"({services})")
    return problems
