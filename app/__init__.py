"""Entry points: the `adpilot` CLI, the chat console and the scheduler."""
