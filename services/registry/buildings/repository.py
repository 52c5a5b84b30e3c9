"""Every query on star buildings and their yearly revenue (the shared part in shared.repository)."""

from services.registry.buildings.models import Building, BuildingYear
from services.registry.verification.schemas import FLAT_KEYS
from shared.repository import DistrictRecords

_BUILDINGS = DistrictRecords(
    Building,
    BuildingYear,
    children=Building.years,
    columns=(
        Building.id,
        Building.name,
        Building.district_code,
        Building.stars,
        Building.operator_uscc,
        *(getattr(Building, name) for name in FLAT_KEYS),
    ),
    child_key=BuildingYear.building_id,
    child_columns=(BuildingYear.year, BuildingYear.revenue_yuan, *(getattr(BuildingYear, name) for name in FLAT_KEYS)),
)

add = _BUILDINGS.add
get = _BUILDINGS.get
page = _BUILDINGS.page
get_year = _BUILDINGS.get_year
