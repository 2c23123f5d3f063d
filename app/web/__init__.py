"""The web console (`adpilot serve`): server-rendered pages over the same state directory, runs and
Guard as the CLI. docs/CONSOLE.md."""
