"""Deterministic skills of the role agents: analytics and rules that always run and propose."""
