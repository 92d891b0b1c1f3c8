"""Whether a QuickBooks Online company tracks classes and locations, and where.

QuickBooks Online assigns classes either to each row of a transaction
(AccountingInfoPrefs.ClassTrackingPerTxnLine) or to the whole transaction
(ClassTrackingPerTxn), never both; locations (Departments, TrackDepartments) are
per transaction only. A document naming a class or location the company does not
track is refused, so a revenue rule that needs one parks the order naming the
setting to turn on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from connector.errors import PermanentError

ClassPlacement = Literal["line", "transaction"]

CLASS_SETTING = (
    "turn on Track classes in QuickBooks (Settings → Account and settings → Advanced → "
    "Categories; AccountingInfoPrefs.ClassTrackingPerTxnLine to assign a class to each row, "
    "or ClassTrackingPerTxn for one per transaction)"
)
LOCATION_SETTING = (
    "turn on Track locations in QuickBooks (Settings → Account and settings → Advanced → "
    "Categories; AccountingInfoPrefs.TrackDepartments)"
)


@dataclass(frozen=True)
class CompanyTracking:
    classes: ClassPlacement | None
    locations: bool

    def to_text(self) -> str:
        """How the facts are cached (a DynamoDB mapping value)."""
        return f"{self.classes or 'off'}|{'on' if self.locations else 'off'}"

    @classmethod
    def from_text(cls, text: str) -> CompanyTracking:
        classes, _, locations = text.partition("|")
        placement: ClassPlacement | None = (
            "line" if classes == "line" else "transaction" if classes == "transaction" else None
        )
        return cls(classes=placement, locations=locations == "on")

    @classmethod
    def from_preferences(cls, preferences: dict[str, Any]) -> CompanyTracking:
        prefs = preferences.get("AccountingInfoPrefs") or {}
        placement: ClassPlacement | None = None
        if prefs.get("ClassTrackingPerTxnLine"):
            placement = "line"
        elif prefs.get("ClassTrackingPerTxn"):
            placement = "transaction"
        return cls(classes=placement, locations=bool(prefs.get("TrackDepartments")))

    def lacks(self, *, classes: bool, location: bool) -> bool:
        """Whether the company is missing a setting a document needs."""
        return (classes and self.classes is None) or (location and not self.locations)

    def refuse(self, what: str, *, classes: str | None, location: str | None) -> PermanentError:
        """Why a document naming ``classes``/``location`` cannot post (naming the setting)."""
        problems = []
        if classes and self.classes is None:
            problems.append(
                f"mapping.rules give it class {classes}, but this QuickBooks company does not "
                f"track classes: {CLASS_SETTING}"
            )
        if location and not self.locations:
            problems.append(
                f"mapping.rules give it location {location!r}, but this QuickBooks company "
                f"does not track locations: {LOCATION_SETTING}"
            )
        return PermanentError(
            f"{what}: " + "; ".join(problems) + " (or change the rules in the tenant file), "
            "then replay"
        )
