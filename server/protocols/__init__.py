"""Wire events of the realtime protocols, one Pydantic class per event, parsed once at the edge."""
