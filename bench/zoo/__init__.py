"""The model zoo: building, training, checkpointing and serving the cards' DDPMs."""
