"""Coarse access rules at the gateway: which roles may call which routes at all.

District scoping (a district key on another district's data) is decided by the services, which know whose
record it is; the gateway only stops what no caller of a role may ever do, before it reaches a service.
The first rule that matches (service, method, path below `/api/v1/<service>`) decides.
"""

import re
from dataclasses import dataclass

from shared.auth import Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL_METHODS = SAFE_METHODS | WRITE_METHODS

ANYONE = frozenset({Role.ANONYMOUS, Role.CITY, Role.DISTRICT, Role.AUDITOR})
KEY_HOLDERS = frozenset({Role.CITY, Role.DISTRICT, Role.AUDITOR})
WRITERS = frozenset({Role.CITY, Role.DISTRICT})
CITY_ONLY = frozenset({Role.CITY})
READERS_OF_EVERYTHING = frozenset({Role.CITY, Role.AUDITOR})
NOBODY: frozenset[Role] = frozenset()
# The services whose long work runs as jobs (`202 Accepted`, `Location: /jobs/{id}`: shared/jobs.py).
JOB_SERVICES = ("registry", "eligibility")
# Paths below a service that are the system's own, never the API's: the transactional outbox feed each producer
# serves to the notifications relay (shared/outbox.py, role `service` only). The proxy answers them 404 before it
# looks at a key (gateway/proxy.py), and the rule below refuses them to every role should anything else ask.
INTERNAL_PATH = r"/outbox(/.*)?"


@dataclass(frozen=True, slots=True)
class Rule:
    service: str  # "*" for any
    path: re.Pattern[str]
    methods: frozenset[str]
    roles: frozenset[Role]
    why: str

    def matches(self, service: str, method: str, path: str) -> bool:
        return (
            (self.service == "*" or self.service == service)
            and method in self.methods
            and self.path.fullmatch(path) is not None
        )

    @property
    def public(self) -> bool:
        return Role.ANONYMOUS in self.roles


def _rule(service: str, path: str, methods: frozenset[str], roles: frozenset[Role], why: str) -> Rule:
    return Rule(service, re.compile(path), methods, roles, why)


RULES: tuple[Rule, ...] = (
    _rule("*", INTERNAL_PATH, ALL_METHODS, NOBODY, "the outbox feeds are internal to the system"),
    # A job is its requester's: every key holder may follow, fetch and cancel the jobs it may see (a district key
    # its own district's, the city and the auditor every one: the service scopes). The auditor's jobs are its
    # screenings and exports, so it may cancel them too.
    *(
        _rule(
            service,
            r"/jobs/[^/]+(/result)?/?",
            SAFE_METHODS | {"DELETE"},
            KEY_HOLDERS,
            "a job is followed and cancelled by the callers who may see it",
        )
        for service in JOB_SERVICES
    ),
    _rule("registry", r"/audit/?", SAFE_METHODS, READERS_OF_EVERYTHING, "the audit log is for city and auditor"),
    _rule(
        "registry",
        r"/(enterprises/[^/]+/years/[^/]+|clusters/[^/]+/(evaluations|years)/[^/]+|buildings/[^/]+(/years/[^/]+)?"
        r"|projects/[^/]+)/verification/?|/verifications/?",
        WRITE_METHODS,
        CITY_ONLY,
        "only the city verifies the facts that decide money",
    ),
    _rule(
        "registry",
        r"/verifications/?",
        SAFE_METHODS,
        READERS_OF_EVERYTHING,
        "the verification queue is the city's (the auditor reads it)",
    ),
    _rule(
        "registry",
        r"/enterprise-registrations(/.*)?",
        SAFE_METHODS,
        READERS_OF_EVERYTHING,
        "held registrations wait for the city",
    ),
    _rule(
        "registry",
        r"/enterprise-registrations(/.*)?",
        WRITE_METHODS,
        CITY_ONLY,
        "only the city confirms or refuses a held registration",
    ),
    _rule(
        "registry",
        r"/leading-enterprises(/.*)?",
        WRITE_METHODS,
        CITY_ONLY,
        "only the city designates 市级领军企业 and revokes a designation",
    ),
    _rule(
        "registry",
        r"/monitoring-stats(/.*)?",
        SAFE_METHODS,
        READERS_OF_EVERYTHING,
        "the monitoring statistics are the whole city's (a district key reads its own records elsewhere)",
    ),
    _rule("eligibility", r"/measures(/.*)?", SAFE_METHODS, ANYONE, "the measures catalogue is public"),
    _rule("eligibility", r"/parameters(/.*)?", SAFE_METHODS, ANYONE, "the parameters are public"),
    _rule("eligibility", r"/calculate(/batch)?/?", frozenset({"POST"}), ANYONE, "calculation is public"),
    _rule("eligibility", r"/parameters(/.*)?", WRITE_METHODS, CITY_ONLY, "only the city changes parameters"),
    _rule("eligibility", r"/awards(/.*)?", WRITE_METHODS, CITY_ONLY, "only the city grants and approves awards"),
    _rule("eligibility", r"/calendar(/.*)?", SAFE_METHODS, ANYONE, "the official working-day calendar is public"),
    _rule(
        "eligibility", r"/calendar(/.*)?", WRITE_METHODS, CITY_ONLY, "only the city records a year's official schedule"
    ),
    _rule("eligibility", r"/policies(/.*)?", SAFE_METHODS, ANYONE, "the register of policies is public"),
    _rule("eligibility", r"/policies(/.*)?", WRITE_METHODS, CITY_ONLY, "only the city registers policies"),
    _rule(
        "eligibility",
        r"/screenings/snapshots/?",
        frozenset({"POST"}),
        CITY_ONLY,
        "only the city takes a year's screening snapshot out of its nightly turn",
    ),
    _rule(
        "eligibility",
        r"/(screenings|simulations)/?",
        frozenset({"POST"}),
        KEY_HOLDERS,
        "screening and simulation compute, they change no record",
    ),
    _rule("ranking", r"/rankings/[^/]+(/.*)?", SAFE_METHODS, ANYONE, "published rankings are public"),
    _rule("ranking", r"/methodologies(/.*)?", SAFE_METHODS, ANYONE, "the method is published before the data"),
    _rule(
        "ranking",
        r"/runs(/.*)?",
        SAFE_METHODS,
        READERS_OF_EVERYTHING,
        "runs are the city's drafts and the auditor's to check; districts read the published rankings",
    ),
    _rule("ranking", r"/.*", WRITE_METHODS, CITY_ONLY, "only the city makes methodologies and runs, and publishes"),
    _rule(
        "monitoring",
        r"/(plan|targets(/[^/]+)?|indicators(/[^/]+)?)/?",
        SAFE_METHODS,
        ANYONE,
        "the plan's targets and indicators are public",
    ),
    _rule("monitoring", r"/publications/.*", SAFE_METHODS, ANYONE, "published assessments are public (定期发布)"),
    _rule("monitoring", r"/.*", WRITE_METHODS, CITY_ONLY, "only the city records observations and publishes"),
    # Subscriptions are every key holder's, the auditor's included (it watches the whole city); the service keeps a
    # district key to its own district's events and subscriptions.
    _rule(
        "notifications",
        r"/(subscriptions|deliveries|events)(/.*)?",
        ALL_METHODS,
        KEY_HOLDERS,
        "webhook subscriptions and the event feed are for key holders, each for the events it may see",
    ),
    _rule("*", r"/.*", SAFE_METHODS, KEY_HOLDERS, "reading needs an API key"),
    _rule("*", r"/.*", WRITE_METHODS, WRITERS, "the auditor role changes nothing"),
)

# Methods outside ALL_METHODS (TRACE, CONNECT, …) match no rule: the gateway answers 405 for them.


def rule_for(service: str, method: str, path: str) -> Rule | None:
    method = method.upper()
    for rule in RULES:
        if rule.matches(service, method, path):
            return rule
    return None
