"""The LangGraph state machine, its state, the supervisor, the role agents and the model factory."""
