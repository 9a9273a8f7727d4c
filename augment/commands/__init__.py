"""One module per `augkit` sub-command; see augment.cli."""
