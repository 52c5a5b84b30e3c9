"""The three domain services: registry, eligibility, ranking."""
