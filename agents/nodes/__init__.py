"""The graph's nodes, one concern a module; each is a plain async function of (state, context)."""
