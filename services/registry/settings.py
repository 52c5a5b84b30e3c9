from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    service_name: str = "registry"
    # Rows accepted by one POST /enterprises/import request.
    import_max_rows: int = Field(default=200_000, ge=1)
    # Bytes accepted by one import body (100,000 CSV rows are about 15 MB).
    import_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
