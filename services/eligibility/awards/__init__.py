"""The award ledger: one standing award per subject (就高不重复), the approval workflow and the money trail."""
