"""Reading what happened: the event log and analytics."""
