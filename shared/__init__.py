"""The project's common library: settings, database, errors, money, identifiers, auth, logging, health."""
