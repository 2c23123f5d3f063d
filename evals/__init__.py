"""The evaluation harness: scenario loader, runner, scoring and reports."""
