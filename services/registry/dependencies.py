"""Dependencies of the registry's routers beyond the shared ones (shared.db, shared.auth)."""

from typing import Annotated

from shared.admission import by_body_size, heavy_work

# Heavy work, admitted by cost (shared/admission.py): an import by its body, 100,000 CSV rows (about 10 MB) a
# full-size request.
ImportWorkDep = Annotated[None, heavy_work(by_body_size(10_000_000))]
