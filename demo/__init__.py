"""Demo data for the RevOps source of truth, kept apart from the product it exercises.

- northwind.py  the generated two-year history as the three systems export it (pure pandas)
- pipeline.py   loads it through the importer, with field-authority rules and one user per role
- scorecard.py, mechanisms.py, disputes.py  the rest of the demo, written through each app's
  services
- management/commands/  demo (what `make demo` runs), seed_demo, scorecard_demo,
  mechanisms_demo, disputes_demo
"""
