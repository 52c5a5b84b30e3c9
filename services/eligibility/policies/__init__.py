"""The register of policies: the documents awards are made under, each with one identity (its document number)."""
