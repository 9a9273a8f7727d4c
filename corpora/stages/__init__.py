"""The stages, one module per kind of step (see corpora.stage for the contract).

corpora.stages.registry imports them all and builds a stage from a recipe step."""
