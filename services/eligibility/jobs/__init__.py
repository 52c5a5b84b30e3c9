"""The eligibility service's jobs (shared.jobs): long work submitted with `Prefer: respond-async` and run by its
worker (`python -m services.eligibility.worker`, services.eligibility.tasks).

Kinds: `screening` (POST /screenings: the result is the screening's JSON), `screening-snapshot` (POST
/screenings/snapshots: the nightly snapshot of a year taken now; the result is its outcome), `awards-export-csv` and
`awards-export-xlsx` (GET /awards/export.csv|.xlsx: the result is the file).
"""

from services.eligibility.models import jobs
from shared.jobs import JobStore

JOBS = JobStore(jobs)

SCREENING = "screening"
SNAPSHOT = "screening-snapshot"
AWARDS_EXPORT_CSV = "awards-export-csv"
AWARDS_EXPORT_XLSX = "awards-export-xlsx"
# The tasks that run them (`<service>:<task>`, shared.queue.make_queue's namespace).
NAMESPACE = "eligibility"
SCREENING_TASK = f"{NAMESPACE}:run_screening"
SNAPSHOT_TASK = f"{NAMESPACE}:run_snapshot"
EXPORT_TASK = f"{NAMESPACE}:run_awards_export"
