"""The credits one `linkedin run` may spend: jobs and uploads held against `max_credits_per_run`.

Saber's account-group API has no credits endpoint and charges when a job imports (1 credit a
prospect, 2 with `searchEmails`), so the only safe budget is an estimate held before each start:
a start whose estimate does not fit what is left waits for the next run. A 402 from the API
stops every later start in the run (`stop`), whatever the budget still says.
"""

from __future__ import annotations

from connector.linkedin.summary import LinkedInSummary


class CreditBudget:
    """What is left of the run's credits; shared by the job stage and the scan stage (uploads)."""

    def __init__(self, limit: int, summary: LinkedInSummary) -> None:
        self.limit = max(0, limit)
        self.summary = summary
        self.held = 0
        self.stopped: str | None = None  # why nothing more starts this run (a 402), if so
        summary.credits_budget = self.limit

    @property
    def left(self) -> int:
        """Credits not held yet this run."""
        return self.limit - self.held

    def fits(self, credits: int) -> bool:
        """Whether a start of this estimate may go ahead (not stopped, and room left)."""
        return self.stopped is None and credits <= self.left

    def hold(self, credits: int) -> bool:
        """Hold `credits` for a start about to be sent; False (nothing held) when it does not fit.

        A dry run holds too (what would start is what fits), but the summary's `credits_held`
        stays 0: nothing was started.
        """
        if not self.fits(credits):
            return False
        self.held += credits
        if not self.summary.dry_run:
            self.summary.credits_held += credits
        return True

    def release(self, credits: int) -> None:
        """Give back what a start held that the API refused (nothing was charged)."""
        credits = min(credits, self.held)
        self.held -= credits
        if not self.summary.dry_run:
            self.summary.credits_held -= credits

    def stop(self, reason: str) -> None:
        """No more starts this run (the API said there are no credits left); the summary says why."""
        self.stopped = reason
        self.summary.stopped = reason
