"""LinkedIn prospecting jobs and signal scans through Saber's account-group API, into HubSpot.

`run.LinkedInRun` is the one run: it follows the jobs started earlier and imports the completed
ones' prospects as HubSpot contacts (`jobs`, `imports`, `people`), starts the jobs that are due
within the run's credit budget (`budget`), then hands over to the scan stage (`scans`). The
run's figures live in `summary.LinkedInSummary`.
"""
