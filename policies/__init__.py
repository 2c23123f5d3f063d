"""Policy packs (YAML) and the models and engine that evaluate them."""
