"""Platform clients, the tool registry, the Guard and the audit log."""
