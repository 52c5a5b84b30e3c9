"""What the registry's problems mean, in the words its routes document them with (shared.openapi.problems)."""

from shared.errors import Conflict, InvalidInput

INVALID = "The request is invalid; `errors` names each field (body, path or query) and what is wrong with it."
INVALID_QUERY = "A query parameter or the cursor is invalid; `errors` names each."
INVALID_PATH = "A path parameter is invalid; `errors` names it."
# The gateway documents 403 for a role the route does not admit; a route that also checks the district of the
# record documents its own meaning, to which the gateway adds its own.
OTHER_DISTRICT = "A district key asked for a record of another district, or to write one there."
OTHER_DISTRICTS_RECORDS = "A district key asked for another district's records."


# The registry's problems that carry fields of their own: each has its own type (`/problems/<slug>`), which its
# Problem model in the schemas names as a constant, so that a client can tell them apart by `type`.
class EnterpriseExists(Conflict):
    """The credit code is taken: by an enterprise, or by a registration that waits (EnterpriseConflictProblem)."""

    slug = "enterprise-exists"


class RegistrationDecided(Conflict):
    """The registration was confirmed or refused already (RegistrationConflictProblem)."""

    slug = "registration-decided"


class ProjectDuplicate(Conflict):
    """The project would duplicate a standing one (ProjectDuplicateProblem)."""

    slug = "project-duplicate"


class DesignationExists(Conflict):
    """The enterprise has a live designation already (DesignationConflictProblem)."""

    slug = "designation-exists"


class ImportRefused(InvalidInput):
    """An import refused as a whole for its header or, atomic, for its invalid rows (ImportProblem)."""

    slug = "import-refused"
