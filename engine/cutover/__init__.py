"""The cutover: approvals, runbook, and the detached worker that outlives a terminal."""
