"""The one trainer every model family uses (see `trainer.train`)."""
