"""District scoping, applied the same way by every service: a district key reads and writes its own district's
records; the city writes any; the city, the auditor and the services read any."""

from shared.auth import Principal, Role
from shared.errors import Forbidden, Unauthorized

# A refusal names the caller, never the record's district: that would tell a district who owns what.
_OWN_DISTRICT_ONLY = "The {principal} principal may {verb} only the records of its own district."


def ensure_writable(principal: Principal, district_code: str) -> None:
    if not principal.may_write_district(district_code):
        raise Forbidden(_OWN_DISTRICT_ONLY.format(principal=principal.label, verb="write"))


def ensure_readable(principal: Principal, district_code: str) -> None:
    if not principal.may_read_district(district_code):
        raise Forbidden(_OWN_DISTRICT_ONLY.format(principal=principal.label, verb="read"))


def listing_district(principal: Principal, requested: str | None) -> str | None:
    """The district a listing, screening or total is restricted to (None: all): the caller's own for a district
    principal, which may not ask for another."""
    if principal.reads_everything:
        return requested
    if principal.role is Role.ANONYMOUS:
        raise Unauthorized("An API key is needed to read district records.")
    if principal.role is not Role.DISTRICT or principal.district_code is None:
        raise Forbidden(f"The {principal.label} principal may not read district records.")
    if requested is not None and requested != principal.district_code:
        raise Forbidden(f"The {principal.label} principal may not read records of district {requested}.")
    return principal.district_code
